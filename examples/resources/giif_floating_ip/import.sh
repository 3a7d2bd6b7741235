# A floating IP can be imported by its id or by its address.
terraform import giif_floating_ip.web fip-5d0c3a9e1f2b4c6d8e7f9a0b1c2d3e4f
terraform import giif_floating_ip.web 203.0.113.100
