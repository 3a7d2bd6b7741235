# A VM can be imported by its id, or as "project-name/vm-name".
terraform import giif_vm.web vm-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b
terraform import giif_vm.web physics-lab/web
