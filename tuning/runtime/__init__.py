"""What servetune needs from the machine it runs on: settings, process groups, proxies, GPUs and work pools."""
