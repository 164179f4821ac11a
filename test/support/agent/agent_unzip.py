#!/usr/bin/python3
"""Unpacks a handler zip with the installed Azure Linux Agent's own code, the way the agent does after a
download: WireClient._try_expand_zip_package (agents 2.8 and later) or
ExtHandlerInstance._unzip_extension_package (2.7.x). Prints the agent's version and the function used.

    agent_unzip.py ZIP TARGET_DIR

The zip is consumed (2.8+ deletes it after expanding, as it does after a download).
"""
import sys

from azurelinuxagent.common import logger
from azurelinuxagent.common import version

zip_path, target = sys.argv[1], sys.argv[2]
try:
    from azurelinuxagent.common.protocol.wire import WireClient
    expand = getattr(WireClient, "_try_expand_zip_package", None)
except ImportError:
    expand = None
if expand is not None:
    expand("Microsoft.Azure.Extensions.DockerExtension", zip_path, target)
    how = "WireClient._try_expand_zip_package"
else:
    from azurelinuxagent.ga.exthandlers import ExtHandlerInstance

    class _Self(object):
        pass

    me = _Self()
    me.logger = logger
    if not ExtHandlerInstance._unzip_extension_package(me, zip_path, target):
        sys.exit("the agent could not unzip " + zip_path)
    how = "ExtHandlerInstance._unzip_extension_package"
print(version.AGENT_VERSION, how)
