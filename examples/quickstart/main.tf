# The quickstart: a project with its gateway, two VMs, one bare-metal server
# and a floating IP for the web server, on the demo site. `make demo` applies it.
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

# A web server with a static address, and a workstation on DHCP.
resource "giif_vm" "web" {
  project_id = giif_project.physics_lab.id
  name       = "web"
  template   = "debian-12"
  cores      = 2
  memory_mb  = 2048

  cloud_init = {
    user = "ops"
    ip   = "192.168.212.140/24"
  }
}

resource "giif_vm" "workstation" {
  project_id = giif_project.physics_lab.id
  name       = "workstation"
  template   = "debian-12"
  cores      = 4
  memory_mb  = 8192

  cloud_init = {
    user = "student01"
    ip   = "dhcp"
  }
}

# A bare-metal server, bridged into the project segment by its gateway.
resource "giif_bms_assignment" "node1" {
  project_id  = giif_project.physics_lab.id
  bms         = "bms01"
  power_state = "on"
  boot_iso    = "ubuntu-24.04" # from the site's ISO library (data "giif_iso_images")
  depends_on  = [giif_pagw.physics_lab]
}

# A public address for the web server: the gateway NATs it 1-to-1.
resource "giif_floating_ip" "web" {
  project_id = giif_project.physics_lab.id
  target_ip  = "192.168.212.140"
  depends_on = [giif_pagw.physics_lab, giif_vm.web]
}

# An SSH console to the web server for the student, next to the VNC consoles
# the agent makes for every VM and server.
resource "giif_guacamole_connection" "web_ssh" {
  name       = "web (ssh)"
  project_id = giif_project.physics_lab.id
  protocol   = "ssh"
  hostname   = "192.168.212.140"
  users      = ["student01"]

  parameters = {
    username     = "ops"
    font-size    = "12"
    color-scheme = "green-black"
  }
}

output "project_vlan" {
  value = giif_project.physics_lab.vlan
}

output "gateway_public_ip" {
  value = giif_pagw.physics_lab.public_ip
}

output "floating_ip" {
  value = giif_floating_ip.web.address
}

output "web_vm" {
  value = "${giif_vm.web.node}/${giif_vm.web.vmid} ${giif_vm.web.mac_address}"
}

output "bare_metal" {
  value = "${giif_bms_assignment.node1.bms} on ${giif_bms_assignment.node1.pagw_nic} (VLAN ${giif_bms_assignment.node1.vlan})"
}

# Links that open each console in Guacamole's web app.
output "consoles" {
  value = {
    web         = giif_vm.web.console_url
    workstation = giif_vm.workstation.console_url
    node1       = giif_bms_assignment.node1.console_url
    web_ssh     = giif_guacamole_connection.web_ssh.client_url
  }
}
