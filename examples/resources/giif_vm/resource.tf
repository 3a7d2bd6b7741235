resource "giif_project" "lab" {
  name = "physics-lab"
}

resource "giif_vm" "web" {
  project_id = giif_project.lab.id
  name       = "web"
  template   = "debian-12"
  cores      = 4
  memory_mb  = 4096
  disk_gb    = 40

  cloud_init = {
    user     = "ops"
    ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnqFxMsQzKAUtQ7uDp4lq+7yJ0Yx1M6Uv5lRvn0xY3D ops@example"]
    ip       = "192.168.212.140/24"
  }

  timeouts {
    create = "15m"
  }
}

output "web_mac_address" {
  value = giif_vm.web.mac_address
}
