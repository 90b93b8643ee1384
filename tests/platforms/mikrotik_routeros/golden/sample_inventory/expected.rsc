# op25b example-isp-op25b 79b17a7e mode block device bras-osa-ros1
# RouterOS 7. Every item op25b owns has a comment starting "op25b 79b17a7e"; op25b push adds them
# make-before-break, places the forward jumps first in chain forward and removes older op25b items.
/ip firewall address-list
add address=100.65.0.0/16 comment="op25b 79b17a7e" list=OP25B-POOL-V4-79b17a7e
add address=100.65.3.7 comment="op25b 79b17a7e" list=OP25B-EXEMPT-V4-79b17a7e
add address=192.0.2.25 comment="op25b 79b17a7e" list=OP25B-MTA-V4-79b17a7e
add address=192.0.2.26 comment="op25b 79b17a7e" list=OP25B-MTA-V4-79b17a7e
/ip firewall filter
add action=return chain=OP25B-V4-79b17a7e comment="op25b 79b17a7e exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V4-79b17a7e
add action=return chain=OP25B-V4-79b17a7e comment="op25b 79b17a7e ISP mail relays" dst-address-list=OP25B-MTA-V4-79b17a7e dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-79b17a7e
add action=return chain=OP25B-V4-79b17a7e comment="op25b 79b17a7e mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V4-79b17a7e
add action=log chain=OP25B-V4-79b17a7e comment="op25b 79b17a7e block direct SMTP from dynamic pools: log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V4-79b17a7e
add action=reject chain=OP25B-V4-79b17a7e comment="op25b 79b17a7e block direct SMTP from dynamic pools" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-79b17a7e
add action=jump chain=forward comment="op25b 79b17a7e subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V4-79b17a7e
/ipv6 firewall address-list
add address=2001:db8:8000::/33 comment="op25b 79b17a7e" list=OP25B-POOL-V6-79b17a7e
add address=2001:db8:8000:4711::/64 comment="op25b 79b17a7e" list=OP25B-EXEMPT-V6-79b17a7e
add address=2001:db8:25::25/128 comment="op25b 79b17a7e" list=OP25B-MTA-V6-79b17a7e
/ipv6 firewall filter
add action=return chain=OP25B-V6-79b17a7e comment="op25b 79b17a7e exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V6-79b17a7e
add action=return chain=OP25B-V6-79b17a7e comment="op25b 79b17a7e ISP mail relays" dst-address-list=OP25B-MTA-V6-79b17a7e dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V6-79b17a7e
add action=return chain=OP25B-V6-79b17a7e comment="op25b 79b17a7e mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V6-79b17a7e
add action=log chain=OP25B-V6-79b17a7e comment="op25b 79b17a7e block direct SMTP from dynamic pools: log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V6-79b17a7e
add action=reject chain=OP25B-V6-79b17a7e comment="op25b 79b17a7e block direct SMTP from dynamic pools" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V6-79b17a7e
add action=jump chain=forward comment="op25b 79b17a7e subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V6-79b17a7e
