module opendev.org/openstack/vmmon

go 1.26.8
