#!/bin/bash
# shellcheck shell=bash
# DevStack plugin of vmmon: monitoring and control of virtual machines.

source "$VMMON_DIR/devstack/lib/vmmon"

if is_service_enabled vmmon-api vmmon-collector vmmon-agent; then
    if [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
        if is_service_enabled vmmon-cassandra; then
            echo_summary "Installing Apache Cassandra for vmmon"
            install_vmmon_cassandra
        fi
    elif [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Building vmmon"
        install_vmmon
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring vmmon"
        configure_vmmon
        create_vmmon_accounts
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting vmmon"
        start_vmmon
    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        if is_service_enabled tempest; then
            iniset "$TEMPEST_CONFIG" service_available vmmon True
        fi
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_vmmon
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_vmmon
    fi
fi

# The Horizon plugin, wherever Horizon runs.
if is_service_enabled horizon; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing vmmon-dashboard"
        install_vmmon_dashboard
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Configuring vmmon-dashboard"
        configure_vmmon_dashboard
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_vmmon_dashboard
    fi
fi
