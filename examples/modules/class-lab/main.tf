# A class lab: a project with its gateway, one VM and one console per
# student, and a shared web server reachable from the internet through a
# floating IP. Students see only their own console; the instructor and the
# assistants see everything in the project.

resource "giif_project" "lab" {
  name        = var.name
  description = var.description
  owner       = var.instructor
  expires_on  = var.expires_on
  members     = [for user in var.assistants : { user = user, role = "member" }]
}

resource "giif_pagw" "lab" {
  project_id = giif_project.lab.id

  # The VPN, when any student brings a WireGuard key (made on the student's
  # own machine: only its public half is here).
  wireguard = length(var.vpn_clients) == 0 ? null : {
    peers = [for name, client in var.vpn_clients : {
      name       = name
      public_key = client.public_key
      address    = client.address
    }]
  }
}

resource "giif_vm" "student" {
  for_each = toset(var.students)

  project_id = giif_project.lab.id
  name       = "${var.name}-${replace(lower(each.key), "/[^a-z0-9-]/", "-")}"
  template   = var.template
  cores      = var.student_vm.cores
  memory_mb  = var.student_vm.memory_mb
  disk_gb    = var.student_vm.disk_gb

  cloud_init = {
    user = "student"
    ip   = "dhcp"
  }

  depends_on = [giif_pagw.lab]
}

# Each student's own console: the VM's VNC console (the agent fills in where
# it is), given to that student only.
resource "giif_guacamole_connection" "student" {
  for_each = toset(var.students)

  name        = "${each.key} desktop"
  project_id  = giif_project.lab.id
  protocol    = "vnc"
  resource_id = giif_vm.student[each.key].id
  users       = [each.key]
}

resource "giif_vm" "web" {
  project_id = giif_project.lab.id
  name       = "${var.name}-web"
  template   = var.template
  cores      = 1
  memory_mb  = 1024

  cloud_init = {
    user = "web"
    ip   = "${var.web_server_ip}/24"
  }

  depends_on = [giif_pagw.lab]
}

resource "giif_floating_ip" "web" {
  project_id = giif_project.lab.id
  target_ip  = var.web_server_ip

  depends_on = [giif_pagw.lab, giif_vm.web]
}
