// ovf-env.xml as the Azure Linux Agent keeps it in its lib directory (protocol/util.py copies the
// provisioning ISO's file, its UserPassword replaced by "*"; root 0400 in a 0700 directory).
export function ovfEnvXml(userName: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1" xmlns:wa="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
  <wa:ProvisioningSection>
    <wa:Version>1.0</wa:Version>
    <LinuxProvisioningConfigurationSet xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
      <ConfigurationSetType>LinuxProvisioningConfiguration</ConfigurationSetType>
      <HostName>adx-test-vm</HostName>
      <UserName>${userName}</UserName>
      <UserPassword>*</UserPassword>
      <DisableSshPasswordAuthentication>true</DisableSshPasswordAuthentication>
      <SSH><PublicKeys><PublicKey><Fingerprint>0</Fingerprint><Path>/home/${userName}/.ssh/authorized_keys</Path></PublicKey></PublicKeys></SSH>
      <CustomData>c2VjcmV0LWN1c3RvbS1kYXRh</CustomData>
    </LinuxProvisioningConfigurationSet>
  </wa:ProvisioningSection>
  <wa:PlatformSettingsSection>
    <PlatformSettings xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
      <KmsServerHostname>kms.core.windows.net</KmsServerHostname>
      <ProvisionGuestAgent>true</ProvisionGuestAgent>
    </PlatformSettings>
  </wa:PlatformSettingsSection>
</Environment>
`;
}
