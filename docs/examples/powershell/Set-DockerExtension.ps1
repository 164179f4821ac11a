# The Docker extension on one VM with Azure PowerShell (Az.Compute, Az.KeyVault), TLS on port
# 2376 with your own certificates, read from Key Vault: the key is never a literal in a script,
# a command line or the shell history.
$resourceGroup = 'mygroup'
$vmName        = 'myvm'
$vaultName     = 'myvault'
$location      = (Get-AzVM -ResourceGroupName $resourceGroup -Name $vmName).Location

$caPem         = Get-AzKeyVaultSecret -VaultName $vaultName -Name 'docker-ca' -AsPlainText
$serverCertPem = Get-AzKeyVaultSecret -VaultName $vaultName -Name 'docker-server-cert' -AsPlainText
$serverKeyPem  = Get-AzKeyVaultSecret -VaultName $vaultName -Name 'docker-server-key' -AsPlainText

$publicSettings = @{
    docker = @{
        port    = 2376
        options = @('--log-opt', 'max-size=10m', '--log-opt', 'max-file=3')
    }
}

$protectedSettings = @{
    certs = @{
        ca   = $caPem
        cert = $serverCertPem
        key  = $serverKeyPem
    }
}

Set-AzVMExtension -ResourceGroupName $resourceGroup -VMName $vmName -Location $location `
    -Name 'DockerExtension' -Publisher 'Microsoft.Azure.Extensions' -ExtensionType 'DockerExtension' `
    -TypeHandlerVersion '2.0' -Settings $publicSettings -ProtectedSettings $protectedSettings

# Run enable again with the same settings (after fixing the VM by hand): the same command with
#   -ForceRerun (Get-Date -Format o)
# The extension's status and substatus:
(Get-AzVM -ResourceGroupName $resourceGroup -Name $vmName -Status).Extensions |
    Where-Object Name -eq 'DockerExtension' | Select-Object -ExpandProperty Statuses
