resource "giif_project" "lab" {
  name = "physics-lab"
}

resource "giif_pagw" "lab" {
  project_id = giif_project.lab.id
}

# A free server, powered on, booting an installer from the site's ISO library
# (data source giif_iso_images lists it; a location such as
# "https://mirror.example.org/isos/x.iso" works too).
resource "giif_bms_assignment" "node1" {
  project_id  = giif_project.lab.id
  bms         = "bms01"
  power_state = "on"
  boot_iso    = "ubuntu-24.04"

  release = {
    power_off   = true
    eject_media = true
    reset       = "bmc"
  }

  # The server reaches the project through its gateway.
  depends_on = [giif_pagw.lab]
}
