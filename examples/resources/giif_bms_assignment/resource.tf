resource "giif_project" "lab" {
  name = "physics-lab"
}

resource "giif_pagw" "lab" {
  project_id = giif_project.lab.id
}

# A free server, powered on, booting an installer from the ISO library.
resource "giif_bms_assignment" "node1" {
  project_id  = giif_project.lab.id
  bms         = "bms01"
  power_state = "on"
  boot_iso    = "https://mirror.example.org/isos/ubuntu-24.04-live-server-amd64.iso"

  release = {
    power_off   = true
    eject_media = true
    reset       = "bmc"
  }

  # The server reaches the project through its gateway.
  depends_on = [giif_pagw.lab]
}
