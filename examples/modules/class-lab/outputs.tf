output "project_id" {
  description = "The lab's project id."
  value       = giif_project.lab.id
}

output "gateway_public_ip" {
  description = "The lab gateway's public address (WireGuard, SNAT)."
  value       = giif_pagw.lab.public_ip
}

output "web_public_ip" {
  description = "The shared web server's public address."
  value       = giif_floating_ip.web.address
}

output "student_consoles" {
  description = "Each student's console link, by student."
  value       = { for student, connection in giif_guacamole_connection.student : student => connection.client_url }
}

output "student_vms" {
  description = "Each student's VM (node/vmid), by student."
  value       = { for student, vm in giif_vm.student : student => "${vm.node}/${vm.vmid}" }
}

output "console_group_id" {
  description = "The lab's Guacamole connection group."
  value       = giif_project.lab.connection_group_id
}

output "vpn_client_configs" {
  description = "A ready wg-quick file for each VPN client, by name: the student puts in the private key that never left the student's machine."
  value = {
    for name, client in var.vpn_clients : name => <<-EOT
      [Interface]
      PrivateKey = <the private key made with this public key>
      Address = ${client.address}/23

      [Peer]
      PublicKey = ${giif_pagw.lab.wireguard_public_key}
      Endpoint = ${giif_pagw.lab.wireguard_endpoint}
      AllowedIPs = ${giif_pagw.lab.wireguard_allowed_ips}
      PersistentKeepalive = 25
    EOT
  }
}
