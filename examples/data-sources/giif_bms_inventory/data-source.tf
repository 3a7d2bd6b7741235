# Free servers tagged "gpu", for picking one to assign.
data "giif_bms_inventory" "gpu" {
  state = "free"
  tag   = "gpu"
}

output "free_gpu_servers" {
  value = data.giif_bms_inventory.gpu.servers[*].name
}
