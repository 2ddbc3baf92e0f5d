"""Loopback fake servers that speak real protocols."""
