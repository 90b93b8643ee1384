# op25b golden-isp ff6dede2 mode targeted device dut
# RouterOS 7. Every item op25b owns has a comment starting "op25b ff6dede2"; op25b push adds them
# make-before-break, places the forward jumps first in chain forward and removes older op25b items.
/ip firewall address-list
add address=100.65.0.0/16 comment="op25b ff6dede2" list=OP25B-POOL-V4-ff6dede2
add address=100.65.3.7 comment="op25b ff6dede2" list=OP25B-EXEMPT-V4-ff6dede2
add address=192.0.2.25 comment="op25b ff6dede2" list=OP25B-MTA-V4-ff6dede2
add address=192.0.2.26 comment="op25b ff6dede2" list=OP25B-MTA-V4-ff6dede2
add address=198.51.100.0/24 comment="op25b ff6dede2" list=OP25B-TARGET-V4-ff6dede2
add address=203.0.113.128/25 comment="op25b ff6dede2" list=OP25B-TARGET-V4-ff6dede2
/ip firewall filter
add action=return chain=OP25B-V4-ff6dede2 comment="op25b ff6dede2 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V4-ff6dede2
add action=return chain=OP25B-V4-ff6dede2 comment="op25b ff6dede2 ISP mail relays" dst-address-list=OP25B-MTA-V4-ff6dede2 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-ff6dede2
add action=return chain=OP25B-V4-ff6dede2 comment="op25b ff6dede2 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V4-ff6dede2
add action=log chain=OP25B-V4-ff6dede2 comment="op25b ff6dede2 block direct SMTP to targeted destinations: log" dst-address-list=OP25B-TARGET-V4-ff6dede2 dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V4-ff6dede2
add action=reject chain=OP25B-V4-ff6dede2 comment="op25b ff6dede2 block direct SMTP to targeted destinations" dst-address-list=OP25B-TARGET-V4-ff6dede2 dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-ff6dede2
add action=jump chain=forward comment="op25b ff6dede2 subscribers on interface vlan100" in-interface=vlan100 jump-target=OP25B-V4-ff6dede2
add action=jump chain=forward comment="op25b ff6dede2 subscribers on interface vlan101" in-interface=vlan101 jump-target=OP25B-V4-ff6dede2
/ipv6 firewall address-list
add address=2001:db8:8000::/33 comment="op25b ff6dede2" list=OP25B-POOL-V6-ff6dede2
add address=2001:db8:8000:4711::/64 comment="op25b ff6dede2" list=OP25B-EXEMPT-V6-ff6dede2
add address=2001:db8:25::25/128 comment="op25b ff6dede2" list=OP25B-MTA-V6-ff6dede2
add address=2001:db8:ffff::/48 comment="op25b ff6dede2" list=OP25B-TARGET-V6-ff6dede2
/ipv6 firewall filter
add action=return chain=OP25B-V6-ff6dede2 comment="op25b ff6dede2 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V6-ff6dede2
add action=return chain=OP25B-V6-ff6dede2 comment="op25b ff6dede2 ISP mail relays" dst-address-list=OP25B-MTA-V6-ff6dede2 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V6-ff6dede2
add action=return chain=OP25B-V6-ff6dede2 comment="op25b ff6dede2 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V6-ff6dede2
add action=log chain=OP25B-V6-ff6dede2 comment="op25b ff6dede2 block direct SMTP to targeted destinations: log" dst-address-list=OP25B-TARGET-V6-ff6dede2 dst-port=25 limit=10/1m,5:packet log-prefix=op25b-block protocol=tcp src-address-list=OP25B-POOL-V6-ff6dede2
add action=reject chain=OP25B-V6-ff6dede2 comment="op25b ff6dede2 block direct SMTP to targeted destinations" dst-address-list=OP25B-TARGET-V6-ff6dede2 dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V6-ff6dede2
add action=jump chain=forward comment="op25b ff6dede2 subscribers on interface vlan100" in-interface=vlan100 jump-target=OP25B-V6-ff6dede2
add action=jump chain=forward comment="op25b ff6dede2 subscribers on interface vlan101" in-interface=vlan101 jump-target=OP25B-V6-ff6dede2
