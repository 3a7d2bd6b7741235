resource "giif_project" "lab" {
  name = "physics-lab"
}

resource "giif_pagw" "lab" {
  project_id = giif_project.lab.id
}

resource "giif_floating_ip" "web" {
  project_id = giif_project.lab.id
  target_ip  = "192.168.212.140"

  # The project's gateway does the NAT: create it first.
  depends_on = [giif_pagw.lab]
}

output "web_address" {
  value = giif_floating_ip.web.address
}
