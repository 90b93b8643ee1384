# op25b golden-isp 88c49415 mode flow-control device dut
# RouterOS 7. Every item op25b owns has a comment starting "op25b 88c49415"; op25b push adds them
# make-before-break, places the forward jumps first in chain forward and removes older op25b items.
/ip firewall address-list
add address=100.64.0.0/16 comment="op25b 88c49415" list=OP25B-POOL-V4-88c49415
add address=100.66.0.0/17 comment="op25b 88c49415" list=OP25B-POOL-V4-88c49415
add address=100.64.200.0/24 comment="op25b 88c49415" list=OP25B-EXEMPT-V4-88c49415
add address=192.0.2.25 comment="op25b 88c49415" list=OP25B-MTA-V4-88c49415
add address=192.0.2.26 comment="op25b 88c49415" list=OP25B-MTA-V4-88c49415
/ip firewall filter
add action=return chain=OP25B-V4-88c49415 comment="op25b 88c49415 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V4-88c49415
add action=return chain=OP25B-V4-88c49415 comment="op25b 88c49415 ISP mail relays" dst-address-list=OP25B-MTA-V4-88c49415 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-88c49415
add action=return chain=OP25B-V4-88c49415 comment="op25b 88c49415 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V4-88c49415
add action=log chain=OP25B-V4-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: sessions: log" connection-limit=10,32 connection-state=new dst-port=25 limit=10/1m,5:packet log-prefix=op25b-limit protocol=tcp src-address-list=OP25B-POOL-V4-88c49415
add action=reject chain=OP25B-V4-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: sessions" connection-limit=10,32 connection-state=new dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-88c49415
add action=return chain=OP25B-V4-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: rate" connection-state=new dst-limit=2,8,src-address/1m dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-88c49415
add action=log chain=OP25B-V4-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: over the rate: log" connection-state=new dst-port=25 limit=10/1m,5:packet log-prefix=op25b-limit protocol=tcp src-address-list=OP25B-POOL-V4-88c49415
add action=reject chain=OP25B-V4-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: over the rate" connection-state=new dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V4-88c49415
add action=jump chain=forward comment="op25b 88c49415 subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V4-88c49415
/ipv6 firewall address-list
add address=2001:db8:8000::/33 comment="op25b 88c49415" list=OP25B-POOL-V6-88c49415
add address=2001:db8:8000:4711::/64 comment="op25b 88c49415" list=OP25B-EXEMPT-V6-88c49415
add address=2001:db8:25::25/128 comment="op25b 88c49415" list=OP25B-MTA-V6-88c49415
/ipv6 firewall filter
add action=return chain=OP25B-V6-88c49415 comment="op25b 88c49415 exempt static customers and opt-outs" dst-port=25 protocol=tcp src-address-list=OP25B-EXEMPT-V6-88c49415
add action=return chain=OP25B-V6-88c49415 comment="op25b 88c49415 ISP mail relays" dst-address-list=OP25B-MTA-V6-88c49415 dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V6-88c49415
add action=return chain=OP25B-V6-88c49415 comment="op25b 88c49415 mail submission stays open" dst-port=587,465 protocol=tcp src-address-list=OP25B-POOL-V6-88c49415
add action=log chain=OP25B-V6-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: sessions: log" connection-limit=10,128 connection-state=new dst-port=25 limit=10/1m,5:packet log-prefix=op25b-limit protocol=tcp src-address-list=OP25B-POOL-V6-88c49415
add action=reject chain=OP25B-V6-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: sessions" connection-limit=10,128 connection-state=new dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V6-88c49415
add action=return chain=OP25B-V6-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: rate" connection-state=new dst-limit=2,8,src-address/1m dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V6-88c49415
add action=log chain=OP25B-V6-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: over the rate: log" connection-state=new dst-port=25 limit=10/1m,5:packet log-prefix=op25b-limit protocol=tcp src-address-list=OP25B-POOL-V6-88c49415
add action=reject chain=OP25B-V6-88c49415 comment="op25b 88c49415 per-subscriber SMTP flow control: over the rate" connection-state=new dst-port=25 protocol=tcp reject-with=tcp-reset src-address-list=OP25B-POOL-V6-88c49415
add action=jump chain=forward comment="op25b 88c49415 subscribers on interface-list pppoe-subscribers" in-interface-list=pppoe-subscribers jump-target=OP25B-V6-88c49415
