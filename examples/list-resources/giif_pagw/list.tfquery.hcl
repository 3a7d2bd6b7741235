# The gateway of the project "physics-lab".
list "giif_pagw" "physics_lab" {
  provider = giif

  config {
    project = "physics-lab"
  }
}
