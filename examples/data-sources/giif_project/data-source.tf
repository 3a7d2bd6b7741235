data "giif_project" "shared" {
  name = "physics-lab"
}

output "shared_vlan" {
  value = data.giif_project.shared.vlan
}
