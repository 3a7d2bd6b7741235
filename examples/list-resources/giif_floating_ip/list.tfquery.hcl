# Every floating IP of the project "physics-lab".
list "giif_floating_ip" "physics_lab" {
  provider = giif

  config {
    project = "physics-lab"
  }
}
