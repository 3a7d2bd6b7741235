variable "name" {
  description = "The rental's project name: one DNS label (letters, digits, hyphens), unique on the site."
  type        = string
}

variable "customer" {
  description = "The Guacamole user who rents the servers; sees every console."
  type        = string
}

variable "members" {
  description = "Other Guacamole users of the customer's team, with their role."
  type        = list(object({ user = string, role = string }))
  default     = []
}

variable "expires_on" {
  description = "The last day of the rental (YYYY-MM-DD)."
  type        = string
  default     = null
}

variable "server_tag" {
  description = "Take servers with this inventory tag (see `giif-agent inventory list`)."
  type        = string
}

variable "server_count" {
  description = "How many servers to rent."
  type        = number

  validation {
    condition     = var.server_count >= 1 && floor(var.server_count) == var.server_count
    error_message = "server_count is a whole number of at least 1."
  }
}

variable "boot_iso" {
  description = "An installer image every server boots from its virtual CD: the name of an image of the site's ISO library (data source giif_iso_images), or its location (an http(s) URL, `host:/path/x.iso` or `//host/share/x.iso`); null for none."
  type        = string
  default     = null
}

variable "power_state" {
  description = "`on` or `off`."
  type        = string
  default     = "on"
}

variable "reset_idrac_on_release" {
  description = "Restart each server's iDRAC when the rental ends, besides powering it off and ejecting media."
  type        = bool
  default     = false
}
