"""Measurement shared by live and simulated runs: the request log and the summary figures."""
