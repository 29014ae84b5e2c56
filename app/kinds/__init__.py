"""Installer kinds as data: the options every [[installer]] table shares, KindSpec, the registry, the contract."""
