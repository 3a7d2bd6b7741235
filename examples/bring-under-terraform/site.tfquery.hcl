# Everything of the project "physics-lab": the project itself, its gateway,
# VMs, servers, floating IPs and Guacamole connections.
list "giif_project" "lab" {
  provider = giif
  config {
    name = "physics-lab"
  }
}

list "giif_pagw" "lab" {
  provider = giif
  config {
    project = "physics-lab"
  }
}

list "giif_vm" "lab" {
  provider = giif
  config {
    project = "physics-lab"
  }
}

list "giif_bms_assignment" "lab" {
  provider = giif
  config {
    project = "physics-lab"
  }
}

list "giif_floating_ip" "lab" {
  provider = giif
  config {
    project = "physics-lab"
  }
}

list "giif_guacamole_connection" "lab" {
  provider = giif
  config {
    project = "physics-lab"
  }
}
