resource "giif_vm" "web" {
  project_id = "prj-0123456789abcdef"
  name       = "web"
  template   = "debian-12"
  cores      = 2
  memory_mb  = 4096

  # Restart the VM whenever an apply changes it.
  lifecycle {
    action_trigger {
      events  = [after_update]
      actions = [action.giif_vm_power.restart_web]
    }
  }
}

action "giif_vm_power" "restart_web" {
  config {
    vm    = giif_vm.web.id
    power = "reset"
  }
}
