// The Docker extension on an existing Linux VM, TLS on port 2376 with your own certificates.
// Deploy: az deployment group create -g mygroup --template-file docker-extension.bicep --parameters docker-extension.bicepparam

@description('An existing Linux VM in this resource group.')
param vmName string

@description('certs.ca: the CA that signed the client certificates (PEM).')
@secure()
param caCertificate string

@description('certs.cert: dockerd\'s server certificate (PEM).')
@secure()
param serverCertificate string

@description('certs.key: its private key (PEM), from Key Vault (docker-extension.bicepparam).')
@secure()
param serverKey string

resource vm 'Microsoft.Compute/virtualMachines@2024-07-01' existing = {
  name: vmName
}

resource docker 'Microsoft.Compute/virtualMachines/extensions@2024-07-01' = {
  parent: vm
  name: 'DockerExtension'
  location: resourceGroup().location
  properties: {
    publisher: 'Microsoft.Azure.Extensions'
    type: 'DockerExtension'
    typeHandlerVersion: '2.0'
    autoUpgradeMinorVersion: true
    settings: {
      docker: {
        port: 2376
        options: [
          '--log-opt'
          'max-size=10m'
          '--log-opt'
          'max-file=3'
        ]
      }
    }
    protectedSettings: {
      certs: {
        ca: caCertificate
        cert: serverCertificate
        key: serverKey
      }
    }
  }
}
