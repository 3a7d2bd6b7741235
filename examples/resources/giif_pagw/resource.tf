resource "giif_project" "lab" {
  name = "physics-lab"
}

resource "giif_pagw" "lab" {
  project_id  = giif_project.lab.id
  dhcp_range  = "192.168.212.20-192.168.212.120"
  dns_servers = ["9.9.9.9", "1.1.1.1"]

  wireguard = {
    peers = [
      { name = "prof-laptop", public_key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", address = "192.168.213.10" },
    ]
  }

  timeouts {
    create = "15m"
  }
}

output "gateway_public_ip" {
  value = giif_pagw.lab.public_ip
}
