variable "name" {
  description = "The lab's project name: one DNS label (letters, digits, hyphens), unique on the site."
  type        = string
}

variable "description" {
  description = "What the lab is for."
  type        = string
  default     = null
}

variable "instructor" {
  description = "The Guacamole user who owns the lab; sees every console."
  type        = string
}

variable "assistants" {
  description = "Guacamole users who help run the lab; they see every console too."
  type        = list(string)
  default     = []
}

variable "students" {
  description = "Guacamole user names, one VM and one console each. A student sees only their own console."
  type        = list(string)

  validation {
    condition     = length(var.students) == length(toset(var.students))
    error_message = "Each student is listed once."
  }
}

variable "expires_on" {
  description = "The last day of the lab (YYYY-MM-DD); the site's operators are told when it passes."
  type        = string
  default     = null
}

variable "template" {
  description = "The Proxmox template students' VMs and the web server are cloned from."
  type        = string
  default     = "debian-12"
}

variable "student_vm" {
  description = "Size of each student's VM."
  type = object({
    cores     = number
    memory_mb = number
    disk_gb   = optional(number)
  })
  default = { cores = 2, memory_mb = 2048 }
}

variable "web_server_ip" {
  description = "The shared web server's static address in the project subnet (outside the gateway's DHCP pool .20-.120)."
  type        = string
  default     = "192.168.212.140"
}

variable "vpn_clients" {
  description = "WireGuard clients by name: each student's public key (from `wg pubkey` on the student's machine) and VPN address in 192.168.213.2-254. Empty: no VPN."
  type = map(object({
    public_key = string
    address    = string
  }))
  default = {}
}
