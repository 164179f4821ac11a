# The Docker extension with Terraform (azurerm provider 3.x or 4.x): on one VM with your own
# certificates, and on a scale set with certificates issued on each instance (certs.issuer).
# The PEM files are Key Vault secrets (az keyvault secret set --vault-name myvault --name docker-server-key --file docker-tls/server-key.pem);
# Terraform keeps protected_settings out of its plan output (sensitive), but they are in its
# state: keep the state in a protected backend.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 3.0"
    }
  }
}

provider "azurerm" {
  features {}
}

variable "vm_id" {
  description = "Resource ID of an existing Linux VM."
  type        = string
}

variable "key_vault_id" {
  description = "Resource ID of the Key Vault that holds the PEM files as secrets."
  type        = string
}

data "azurerm_key_vault_secret" "docker_ca" {
  name         = "docker-ca"
  key_vault_id = var.key_vault_id
}

data "azurerm_key_vault_secret" "docker_server_cert" {
  name         = "docker-server-cert"
  key_vault_id = var.key_vault_id
}

data "azurerm_key_vault_secret" "docker_server_key" {
  name         = "docker-server-key"
  key_vault_id = var.key_vault_id
}

data "azurerm_key_vault_secret" "docker_issuer_cert" {
  name         = "docker-issuer-cert"
  key_vault_id = var.key_vault_id
}

data "azurerm_key_vault_secret" "docker_issuer_key" {
  name         = "docker-issuer-key"
  key_vault_id = var.key_vault_id
}

# One VM.
resource "azurerm_virtual_machine_extension" "docker" {
  name                       = "DockerExtension"
  virtual_machine_id         = var.vm_id
  publisher                  = "Microsoft.Azure.Extensions"
  type                       = "DockerExtension"
  type_handler_version       = "2.0"
  auto_upgrade_minor_version = true

  settings = jsonencode({
    docker = {
      port    = 2376
      options = ["--log-opt", "max-size=10m", "--log-opt", "max-file=3"]
    }
  })

  protected_settings = jsonencode({
    certs = {
      ca   = data.azurerm_key_vault_secret.docker_ca.value
      cert = data.azurerm_key_vault_secret.docker_server_cert.value
      key  = data.azurerm_key_vault_secret.docker_server_key.value
    }
  })
}

# A scale set: each instance makes its own key and a certificate for its own names.
variable "subnet_id" {
  description = "Resource ID of the subnet; its network security group must allow TCP 2376 from your clients."
  type        = string
}

variable "ssh_public_key" {
  type = string
}

resource "azurerm_linux_virtual_machine_scale_set" "docker" {
  name                = "docker-vmss"
  resource_group_name = "mygroup"
  location            = "westeurope"
  sku                 = "Standard_D2s_v5"
  instances           = 3
  admin_username      = "azureuser"
  upgrade_mode        = "Rolling"

  admin_ssh_key {
    username   = "azureuser"
    public_key = var.ssh_public_key
  }

  source_image_reference {
    publisher = "Debian"
    offer     = "debian-12"
    sku       = "12-gen2"
    version   = "latest"
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
  }

  network_interface {
    name    = "nic"
    primary = true
    ip_configuration {
      name      = "ipconfig"
      primary   = true
      subnet_id = var.subnet_id
    }
  }

  rolling_upgrade_policy {
    max_batch_instance_percent              = 20
    max_unhealthy_instance_percent          = 20
    max_unhealthy_upgraded_instance_percent = 20
    pause_time_between_batches              = "PT2M"
  }

  extension {
    name                       = "DockerExtension"
    publisher                  = "Microsoft.Azure.Extensions"
    type                       = "DockerExtension"
    type_handler_version       = "2.0"
    auto_upgrade_minor_version = true

    settings = jsonencode({
      docker = {
        port = 2376
        tls = {
          subjectAltNames = ["docker.example.com"]
          days            = 90
        }
        options = ["--log-opt", "max-size=10m"]
      }
    })

    protected_settings = jsonencode({
      certs = {
        ca = data.azurerm_key_vault_secret.docker_ca.value
        issuer = {
          cert = data.azurerm_key_vault_secret.docker_issuer_cert.value
          key  = data.azurerm_key_vault_secret.docker_issuer_key.value
        }
      }
    })
  }

  # A rolling upgrade needs a health signal: the Application Health extension probes the TLS port.
  extension {
    name                       = "HealthExtension"
    publisher                  = "Microsoft.ManagedServices"
    type                       = "ApplicationHealthLinux"
    type_handler_version       = "1.0"
    auto_upgrade_minor_version = true
    provision_after_extensions = ["DockerExtension"]
    settings                   = jsonencode({ protocol = "tcp", port = 2376 })
  }
}
