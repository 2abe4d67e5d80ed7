module github.com/client-ip-guard/client-ip-guard

go 1.24.0

require go4.org/netipx v0.0.0-20231129151722-fdeea329fbba
