# A project can be imported by its id or by its name.
terraform import giif_project.example prj-0d5c6e2f9a1b4c7d8e9f0a1b2c3d4e5f
terraform import giif_project.example chem-lab
