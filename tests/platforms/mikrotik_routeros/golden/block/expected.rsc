# op25b golden-isp 82011c77 mode block device dut
# RouterOS 7. Every item op25b owns has a comment starting "op25b 82011c77"; op25b push adds them
# make-before-break, places the forward jumps first in chain forward and removes older op25b items.
/ip firewall address-list
add address=100.64.0.0/16 comment="op25b 82011c77" list=OP25B-POOL-V4-DYN-A-82011c77
add address=100.66.0.0/17 comment="op25b 82011c77" list=OP25B-POOL-V4-DYN-A-82011c77
add address=100.65.0.0/16 comment="op25b 82011c77" list=OP25B-POOL-V4-DYN-B-82011c77
add address=100.64.200.0/24 comment="op25b 82011c77" list=OP25B-EXEMPT-V4-DYN-A-82011c77
add address=100.65.3.7 comment="op25b 82011c77" list=OP25B-EXEMPT-V4-DYN-B-82011c77
add address=192.0.2.25 comment="op25b 82011c77" list=OP25B-MTA-V4-82011c77
add address=192.0.2.26 comment="op25b 82011c77" list=OP25B-MTA-V4-82011c77
/ip firewall filter
add action=return chain=OP25B-V4-82011c77 comment="op25b 82011c77 exempt static customers and opt-outs (DYN-A)" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V4-DYN-A-82011c77
add action=return chain=OP25B-V4-82011c77 comment="op25b 82011c77 exempt static customers and opt-outs (DYN-B)" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V4-DYN-B-82011c77
add action=return chain=OP25B-V4-82011c77 comment="op25b 82011c77 ISP mail relays (DYN-A)" dst-address-list=OP25B-MTA-V4-82011c77 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-DYN-A-82011c77
add action=return chain=OP25B-V4-82011c77 comment="op25b 82011c77 ISP mail relays (DYN-B)" dst-address-list=OP25B-MTA-V4-82011c77 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-DYN-B-82011c77
add action=return chain=OP25B-V4-82011c77 comment="op25b 82011c77 mail submission stays open (DYN-A)" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V4-DYN-A-82011c77
add action=return chain=OP25B-V4-82011c77 comment="op25b 82011c77 mail submission stays open (DYN-B)" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V4-DYN-B-82011c77
add action=log chain=OP25B-V4-82011c77 comment="op25b 82011c77 block direct SMTP from dynamic pools (DYN-A): log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V4-DYN-A-82011c77
add action=reject chain=OP25B-V4-82011c77 comment="op25b 82011c77 block direct SMTP from dynamic pools (DYN-A)" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-DYN-A-82011c77
add action=log chain=OP25B-V4-82011c77 comment="op25b 82011c77 block direct SMTP from dynamic pools (DYN-B): log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V4-DYN-B-82011c77
add action=reject chain=OP25B-V4-82011c77 comment="op25b 82011c77 block direct SMTP from dynamic pools (DYN-B)" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-DYN-B-82011c77
add action=jump chain=forward comment="op25b 82011c77 subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V4-82011c77
/ipv6 firewall address-list
add address=2001:db8:8000::/33 comment="op25b 82011c77" list=OP25B-POOL-V6-82011c77
add address=2001:db8:8000:4711::/64 comment="op25b 82011c77" list=OP25B-EXEMPT-V6-82011c77
add address=2001:db8:25::25/128 comment="op25b 82011c77" list=OP25B-MTA-V6-82011c77
/ipv6 firewall filter
add action=return chain=OP25B-V6-82011c77 comment="op25b 82011c77 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V6-82011c77
add action=return chain=OP25B-V6-82011c77 comment="op25b 82011c77 ISP mail relays" dst-address-list=OP25B-MTA-V6-82011c77 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V6-82011c77
add action=return chain=OP25B-V6-82011c77 comment="op25b 82011c77 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V6-82011c77
add action=log chain=OP25B-V6-82011c77 comment="op25b 82011c77 block direct SMTP from dynamic pools: log" dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V6-82011c77
add action=reject chain=OP25B-V6-82011c77 comment="op25b 82011c77 block direct SMTP from dynamic pools" dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V6-82011c77
add action=jump chain=forward comment="op25b 82011c77 subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V6-82011c77
