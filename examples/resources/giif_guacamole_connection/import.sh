# A connection is imported by its Guacamole id. The password is write-only,
# so it is not imported: set password_version to send it again.
terraform import giif_guacamole_connection.lab_server 42
