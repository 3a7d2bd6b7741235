# The quickstart: one project on the demo site. `make demo` applies it.
terraform {
  required_providers {
    giif = {
      source = "registry.terraform.io/giif/giif"
    }
  }
}

# The agent's address and credentials come from GIIF_* variables
# (`source .demo/env`).
provider "giif" {}

resource "giif_project" "physics_lab" {
  name        = "physics-lab"
  description = "Physics 101 lab machines"
  owner       = "prof.curie"
  expires_on  = "2027-06-30"

  members = [
    { user = "prof.curie", role = "manager" },
    { user = "student01", role = "member" },
  ]
}

# The project's gateway: a VM cloned from the site's PAGW template, on a free
# public IP slot, doing DHCP, NAT and the WireGuard VPN for the project.
resource "giif_pagw" "physics_lab" {
  project_id  = giif_project.physics_lab.id
  dns_servers = ["9.9.9.9"]

  wireguard = {
    peers = [
      { name = "prof-laptop", public_key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", address = "192.168.213.10" },
    ]
  }
}

# A public address for the project's web server at 192.168.212.140: the
# gateway NATs it 1-to-1.
resource "giif_floating_ip" "web" {
  project_id = giif_project.physics_lab.id
  target_ip  = "192.168.212.140"
  depends_on = [giif_pagw.physics_lab]
}

output "project_id" {
  value = giif_project.physics_lab.id
}

output "project_vlan" {
  value = giif_project.physics_lab.vlan
}

output "gateway_public_ip" {
  value = giif_pagw.physics_lab.public_ip
}

output "gateway_wireguard_public_key" {
  value = giif_pagw.physics_lab.wireguard_public_key
}

output "floating_ip" {
  value = giif_floating_ip.web.address
}
