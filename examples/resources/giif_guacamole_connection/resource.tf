resource "giif_project" "lab" {
  name = "physics-lab"
}

resource "giif_vm" "desktop" {
  project_id = giif_project.lab.id
  name       = "desktop-01"
  template   = "debian-12"
}

# The VNC console of a project VM, in the project's Resources group. The
# agent fills in the VM's address, port and console password, so none of
# them is in the configuration or in the state.
resource "giif_guacamole_connection" "desktop" {
  name        = "desktop-01 (console)"
  project_id  = giif_project.lab.id
  protocol    = "vnc"
  resource_id = giif_vm.desktop.id
  users       = ["student01"]

  parameters = {
    "color-depth" = "24"
    "cursor"      = "remote"
  }
}

# SSH to a host outside giif, in the project's own connection group. The
# password is write-only: it is sent to Guacamole and never stored in the
# plan or the state. Bump password_version to send a changed password.
variable "lab_server_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "giif_guacamole_connection" "lab_server" {
  name            = "lab server (ssh)"
  parent_group_id = giif_project.lab.connection_group_id
  protocol        = "ssh"
  hostname        = "lab-server.example.org"
  port            = 2222

  parameters = {
    "username"     = "student"
    "color-scheme" = "green-black"
    "font-size"    = "14"
    "scrollback"   = "5000"
  }

  password         = var.lab_server_password
  password_version = 1

  user_groups = ["physics-101"]
}

output "desktop_console_url" {
  value = giif_guacamole_connection.desktop.client_url
}
