# Every VM of the project "physics-lab", with their whole state.
list "giif_vm" "physics_lab" {
  provider         = giif
  include_resource = true

  config {
    project = "physics-lab"
  }
}
