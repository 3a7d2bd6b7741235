# Power cycle a hung server: `terraform apply -invoke=action.giif_server_power.cycle_node1`.
action "giif_server_power" "cycle_node1" {
  config {
    server = "bms01"
    power  = "cycle"
  }
}
