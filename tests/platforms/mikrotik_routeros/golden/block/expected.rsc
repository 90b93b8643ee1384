# op25b golden-isp 5c0e5d20 mode block device dut
# RouterOS 7. Every item op25b owns has a comment starting "op25b 5c0e5d20"; op25b push adds them
# make-before-break, places the forward jumps first in chain forward and removes older op25b items.
/ip firewall address-list
add address=100.64.0.0/15 comment="op25b 5c0e5d20" list=OP25B-POOL-V4-5c0e5d20
add address=100.66.0.0/17 comment="op25b 5c0e5d20" list=OP25B-POOL-V4-5c0e5d20
add address=100.64.200.0/24 comment="op25b 5c0e5d20" list=OP25B-EXEMPT-V4-5c0e5d20
add address=100.65.3.7 comment="op25b 5c0e5d20" list=OP25B-EXEMPT-V4-5c0e5d20
add address=192.0.2.25 comment="op25b 5c0e5d20" list=OP25B-MTA-V4-5c0e5d20
add address=192.0.2.26 comment="op25b 5c0e5d20" list=OP25B-MTA-V4-5c0e5d20
/ip firewall filter
add action=return chain=OP25B-V4-5c0e5d20 comment="op25b 5c0e5d20 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V4-5c0e5d20
add action=return chain=OP25B-V4-5c0e5d20 comment="op25b 5c0e5d20 ISP mail relays" dst-address-list=OP25B-MTA-V4-5c0e5d20 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-5c0e5d20
add action=return chain=OP25B-V4-5c0e5d20 comment="op25b 5c0e5d20 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V4-5c0e5d20
add action=log chain=OP25B-V4-5c0e5d20 comment="op25b 5c0e5d20 block direct SMTP from dynamic pools: log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V4-5c0e5d20
add action=reject chain=OP25B-V4-5c0e5d20 comment="op25b 5c0e5d20 block direct SMTP from dynamic pools" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-5c0e5d20
add action=jump chain=forward comment="op25b 5c0e5d20 subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V4-5c0e5d20
/ipv6 firewall address-list
add address=2001:db8:8000::/33 comment="op25b 5c0e5d20" list=OP25B-POOL-V6-5c0e5d20
add address=2001:db8:8000:4711::/64 comment="op25b 5c0e5d20" list=OP25B-EXEMPT-V6-5c0e5d20
add address=2001:db8:25::25/128 comment="op25b 5c0e5d20" list=OP25B-MTA-V6-5c0e5d20
/ipv6 firewall filter
add action=return chain=OP25B-V6-5c0e5d20 comment="op25b 5c0e5d20 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V6-5c0e5d20
add action=return chain=OP25B-V6-5c0e5d20 comment="op25b 5c0e5d20 ISP mail relays" dst-address-list=OP25B-MTA-V6-5c0e5d20 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V6-5c0e5d20
add action=return chain=OP25B-V6-5c0e5d20 comment="op25b 5c0e5d20 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V6-5c0e5d20
add action=log chain=OP25B-V6-5c0e5d20 comment="op25b 5c0e5d20 block direct SMTP from dynamic pools: log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V6-5c0e5d20
add action=reject chain=OP25B-V6-5c0e5d20 comment="op25b 5c0e5d20 block direct SMTP from dynamic pools" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V6-5c0e5d20
add action=jump chain=forward comment="op25b 5c0e5d20 subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V6-5c0e5d20
