"""Every sFlow counter structure, once: wire layout, measurement name, field names, sflowtool keys.

This table is the single source for the decoder (layouts), the line-protocol writer (the
``sflow_<name>`` measurement and its field names), the ``sflowtool -j`` renderer (keys) and the
simulator's encoder (layouts of its typed blocks). Adding a structure is one row here (see
docs/developing.md); a custom decoder is needed only for nested lists (marked ``custom``).

Row format: ``enterprise:format name [short=N] [custom]`` then one line per field, wire order:
``field_name code sflowtool_key``. Codes:

- ``I`` u32, ``Q`` u64, ``f`` XDR float32, ``B`` one byte (LACP port states);
- ``mac`` 6-byte MAC padded to 8 (rendered lowercase hex);
- ``pct`` u32 hundredths of a percent (sflowtool prints ``%.2f``);
- ``hex64`` u64 sflowtool prints as 16 hex digits (OpenFlow datapath id);
- ``sN`` XDR string, sflowtool keeps at most N-1 characters;
- ``*`` decoded by the structure's custom decoder.

``short=N``: agents also send an older, shorter form holding only the first N fields
(host_cpu before Dec 2014, jvm_statistics without the descriptor counters); the decoder uses
the longest form that fits, as sflowtool does.

Names and keys come from sflowtool ``src/sflowtool.c`` (readCounters_*) and ``src/sflow.h``
(github sflow/sflowtool); field names are the spec's, snake_case. sflowtool has no decoder for
0:11 (PFC), so neither do we: it is counted as an unknown record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from struct import Struct

_FIXED_CODES = {"I": "I", "Q": "Q", "f": "f", "B": "B", "mac": "6s2x", "pct": "I", "hex64": "Q"}

_TABLE = """
0:1 if_counters
    if_index I ifIndex
    if_type I networkType
    if_speed Q ifSpeed
    if_direction I ifDirection
    if_status I ifStatus
    if_in_octets Q ifInOctets
    if_in_ucast_pkts I ifInUcastPkts
    if_in_multicast_pkts I ifInMulticastPkts
    if_in_broadcast_pkts I ifInBroadcastPkts
    if_in_discards I ifInDiscards
    if_in_errors I ifInErrors
    if_in_unknown_protos I ifInUnknownProtos
    if_out_octets Q ifOutOctets
    if_out_ucast_pkts I ifOutUcastPkts
    if_out_multicast_pkts I ifOutMulticastPkts
    if_out_broadcast_pkts I ifOutBroadcastPkts
    if_out_discards I ifOutDiscards
    if_out_errors I ifOutErrors
    if_promiscuous_mode I ifPromiscuousMode
0:2 ethernet
    dot3_stats_alignment_errors I dot3StatsAlignmentErrors
    dot3_stats_fcs_errors I dot3StatsFCSErrors
    dot3_stats_single_collision_frames I dot3StatsSingleCollisionFrames
    dot3_stats_multiple_collision_frames I dot3StatsMultipleCollisionFrames
    dot3_stats_sqe_test_errors I dot3StatsSQETestErrors
    dot3_stats_deferred_transmissions I dot3StatsDeferredTransmissions
    dot3_stats_late_collisions I dot3StatsLateCollisions
    dot3_stats_excessive_collisions I dot3StatsExcessiveCollisions
    dot3_stats_internal_mac_transmit_errors I dot3StatsInternalMacTransmitErrors
    dot3_stats_carrier_sense_errors I dot3StatsCarrierSenseErrors
    dot3_stats_frame_too_longs I dot3StatsFrameTooLongs
    dot3_stats_internal_mac_receive_errors I dot3StatsInternalMacReceiveErrors
    dot3_stats_symbol_errors I dot3StatsSymbolErrors
0:3 tokenring
    dot5_stats_line_errors I dot5StatsLineErrors
    dot5_stats_burst_errors I dot5StatsBurstErrors
    dot5_stats_ac_errors I dot5StatsACErrors
    dot5_stats_abort_trans_errors I dot5StatsAbortTransErrors
    dot5_stats_internal_errors I dot5StatsInternalErrors
    dot5_stats_lost_frame_errors I dot5StatsLostFrameErrors
    dot5_stats_receive_congestions I dot5StatsReceiveCongestions
    dot5_stats_frame_copied_errors I dot5StatsFrameCopiedErrors
    dot5_stats_token_errors I dot5StatsTokenErrors
    dot5_stats_soft_errors I dot5StatsSoftErrors
    dot5_stats_hard_errors I dot5StatsHardErrors
    dot5_stats_signal_loss I dot5StatsSignalLoss
    dot5_stats_transmit_beacons I dot5StatsTransmitBeacons
    dot5_stats_recoverys I dot5StatsRecoverys
    dot5_stats_lobe_wires I dot5StatsLobeWires
    dot5_stats_removes I dot5StatsRemoves
    dot5_stats_singles I dot5StatsSingles
    dot5_stats_freq_errors I dot5StatsFreqErrors
0:4 vg
    dot12_in_high_priority_frames I dot12InHighPriorityFrames
    dot12_in_high_priority_octets Q dot12InHighPriorityOctets
    dot12_in_norm_priority_frames I dot12InNormPriorityFrames
    dot12_in_norm_priority_octets Q dot12InNormPriorityOctets
    dot12_in_ipm_errors I dot12InIPMErrors
    dot12_in_oversize_frame_errors I dot12InOversizeFrameErrors
    dot12_in_data_errors I dot12InDataErrors
    dot12_in_null_addressed_frames I dot12InNullAddressedFrames
    dot12_out_high_priority_frames I dot12OutHighPriorityFrames
    dot12_out_high_priority_octets Q dot12OutHighPriorityOctets
    dot12_transition_into_trainings I dot12TransitionIntoTrainings
    dot12_hc_in_high_priority_octets Q dot12HCInHighPriorityOctets
    dot12_hc_in_norm_priority_octets Q dot12HCInNormPriorityOctets
    dot12_hc_out_high_priority_octets Q dot12HCOutHighPriorityOctets
0:5 vlan
    vlan_id I in_vlan
    octets Q octets
    ucast_pkts I ucastPkts
    multicast_pkts I multicastPkts
    broadcast_pkts I broadcastPkts
    discards I discards
0:6 ieee80211
    dot11_transmitted_fragment_count I dot11TransmittedFragmentCount
    dot11_multicast_transmitted_frame_count I dot11MulticastTransmittedFrameCount
    dot11_failed_count I dot11FailedCount
    dot11_retry_count I dot11RetryCount
    dot11_multiple_retry_count I dot11MultipleRetryCount
    dot11_frame_duplicate_count I dot11FrameDuplicateCount
    dot11_rts_success_count I dot11RTSSuccessCount
    dot11_rts_failure_count I dot11RTSFailureCount
    dot11_ack_failure_count I dot11ACKFailureCount
    dot11_received_fragment_count I dot11ReceivedFragmentCount
    dot11_multicast_received_frame_count I dot11MulticastReceivedFrameCount
    dot11_fcs_error_count I dot11FCSErrorCount
    dot11_transmitted_frame_count I dot11TransmittedFrameCount
    dot11_wep_undecryptable_count I dot11WEPUndecryptableCount
    dot11_qos_discarded_fragment_count I dot11QoSDiscardedFragmentCount
    dot11_associated_station_count I dot11AssociatedStationCount
    dot11_qos_cf_polls_received_count I dot11QoSCFPollsReceivedCount
    dot11_qos_cf_polls_unused_count I dot11QoSCFPollsUnusedCount
    dot11_qos_cf_polls_unusable_count I dot11QoSCFPollsUnusableCount
    dot11_qos_cf_polls_lost_count I dot11QoSCFPollsLostCount
0:7 lacp
    actor_system_id mac actorSystemID
    partner_system_id mac partnerSystemID
    attached_agg_id I attachedAggID
    actor_admin_port_state B actorAdminPortState
    actor_oper_port_state B actorOperPortState
    partner_admin_port_state B partnerAdminPortState
    partner_oper_port_state B partnerOperPortState
    lacpdus_rx I LACPDUsRx
    marker_pdus_rx I markerPDUsRx
    marker_response_pdus_rx I markerResponsePDUsRx
    unknown_rx I unknownRx
    illegal_rx I illegalRx
    lacpdus_tx I LACPDUsTx
    marker_pdus_tx I markerPDUsTx
    marker_response_pdus_tx I markerResponsePDUsTx
0:10 sfp custom
    module_id * sfp_module_id
    module_total_lanes * sfp_module_total_lanes
    module_supply_voltage * sfp_module_supply_voltage
    module_temperature * sfp_module_temperature
    lanes * sfp_lanes
0:1001 processor
    five_sec_cpu pct 5s_cpu
    one_min_cpu pct 1m_cpu
    five_min_cpu pct 5m_cpu
    total_memory Q total_memory_bytes
    free_memory Q free_memory_bytes
0:1002 radio
    elapsed_time I radio_elapsed_time
    on_channel_time I radio_on_channel_time
    on_channel_busy_time I radio_on_channel_busy_time
0:1004 openflow_port
    datapath_id hex64 openflow_datapath_id
    port_no I openflow_port
0:1005 port_name
    port_name s255 ifName
0:2000 host_descr custom
    hostname * hostname
    uuid * UUID
    machine_type * machine_type
    os_name * os_name
    os_release * os_release
0:2001 host_adapters custom
    adapters * adaptor_list
0:2002 host_parent
    container_type I parent_dsClass
    container_index I parent_dsIndex
0:2003 host_cpu short=17
    load_one f cpu_load_one
    load_five f cpu_load_five
    load_fifteen f cpu_load_fifteen
    proc_run I cpu_proc_run
    proc_total I cpu_proc_total
    cpu_num I cpu_num
    cpu_speed I cpu_speed
    uptime I cpu_uptime
    cpu_user I cpu_user
    cpu_nice I cpu_nice
    cpu_system I cpu_system
    cpu_idle I cpu_idle
    cpu_wio I cpu_wio
    cpu_intr I cpuintr
    cpu_sintr I cpu_sintr
    interrupts I cpuinterrupts
    contexts I cpu_contexts
    cpu_steal I cpu_steal
    cpu_guest I cpu_guest
    cpu_guest_nice I cpu_guest_nice
0:2004 host_memory
    mem_total Q mem_total
    mem_free Q mem_free
    mem_shared Q mem_shared
    mem_buffers Q mem_buffers
    mem_cached Q mem_cached
    swap_total Q swap_total
    swap_free Q swap_free
    page_in I page_in
    page_out I page_out
    swap_in I swap_in
    swap_out I swap_out
0:2005 host_disk_io
    disk_total Q disk_total
    disk_free Q disk_free
    part_max_used pct disk_partition_max_used
    reads I disk_reads
    bytes_read Q disk_bytes_read
    read_time I disk_read_time
    writes I disk_writes
    bytes_written Q disk_bytes_written
    write_time I disk_write_time
0:2006 host_net_io
    bytes_in Q nio_bytes_in
    pkts_in I nio_pkts_in
    errs_in I nio_errs_in
    drops_in I nio_drops_in
    bytes_out Q nio_bytes_out
    pkts_out I nio_pkts_out
    errs_out I nio_errs_out
    drops_out I nio_drops_out
0:2007 mib2_ip
    ip_forwarding I ipForwarding
    ip_default_ttl I ipDefaultTTL
    ip_in_receives I ipInReceives
    ip_in_hdr_errors I ipInHdrErrors
    ip_in_addr_errors I ipInAddrErrors
    ip_forw_datagrams I ipForwDatagrams
    ip_in_unknown_protos I ipInUnknownProtos
    ip_in_discards I ipInDiscards
    ip_in_delivers I ipInDelivers
    ip_out_requests I ipOutRequests
    ip_out_discards I ipOutDiscards
    ip_out_no_routes I ipOutNoRoutes
    ip_reasm_timeout I ipReasmTimeout
    ip_reasm_reqds I ipReasmReqds
    ip_reasm_oks I ipReasmOKs
    ip_reasm_fails I ipReasmFails
    ip_frag_oks I ipFragOKs
    ip_frag_fails I ipFragFails
    ip_frag_creates I ipFragCreates
0:2008 mib2_icmp
    icmp_in_msgs I icmpInMsgs
    icmp_in_errors I icmpInErrors
    icmp_in_dest_unreachs I icmpInDestUnreachs
    icmp_in_time_excds I icmpInTimeExcds
    icmp_in_param_probs I icmpInParamProbs
    icmp_in_src_quenchs I icmpInSrcQuenchs
    icmp_in_redirects I icmpInRedirects
    icmp_in_echos I icmpInEchos
    icmp_in_echo_reps I icmpInEchoReps
    icmp_in_timestamps I icmpInTimestamps
    icmp_in_addr_masks I icmpInAddrMasks
    icmp_in_addr_mask_reps I icmpInAddrMaskReps
    icmp_out_msgs I icmpOutMsgs
    icmp_out_errors I icmpOutErrors
    icmp_out_dest_unreachs I icmpOutDestUnreachs
    icmp_out_time_excds I icmpOutTimeExcds
    icmp_out_param_probs I icmpOutParamProbs
    icmp_out_src_quenchs I icmpOutSrcQuenchs
    icmp_out_redirects I icmpOutRedirects
    icmp_out_echos I icmpOutEchos
    icmp_out_echo_reps I icmpOutEchoReps
    icmp_out_timestamps I icmpOutTimestamps
    icmp_out_timestamp_reps I icmpOutTimestampReps
    icmp_out_addr_masks I icmpOutAddrMasks
    icmp_out_addr_mask_reps I icmpOutAddrMaskReps
0:2009 mib2_tcp
    tcp_rto_algorithm I tcpRtoAlgorithm
    tcp_rto_min I tcpRtoMin
    tcp_rto_max I tcpRtoMax
    tcp_max_conn I tcpMaxConn
    tcp_active_opens I tcpActiveOpens
    tcp_passive_opens I tcpPassiveOpens
    tcp_attempt_fails I tcpAttemptFails
    tcp_estab_resets I tcpEstabResets
    tcp_curr_estab I tcpCurrEstab
    tcp_in_segs I tcpInSegs
    tcp_out_segs I tcpOutSegs
    tcp_retrans_segs I tcpRetransSegs
    tcp_in_errs I tcpInErrs
    tcp_out_rsts I tcpOutRsts
    tcp_in_csum_errors I tcpInCsumErrors
0:2010 mib2_udp
    udp_in_datagrams I udpInDatagrams
    udp_no_ports I udpNoPorts
    udp_in_errors I udpInErrors
    udp_out_datagrams I udpOutDatagrams
    udp_rcvbuf_errors I udpRcvbufErrors
    udp_sndbuf_errors I udpSndbufErrors
    udp_in_csum_errors I udpInCsumErrors
0:2100 virt_node
    mhz I vnode_mhz
    cpus I vnode_cpus
    memory Q vnode_memory
    memory_free Q vnode_memory_free
    num_domains I vnode_num_domains
0:2101 virt_cpu
    state I vcpu_state
    cpu_time I vcpu_cpu_mS
    nr_virt_cpu I vcpu_cpuCount
0:2102 virt_memory
    memory Q vmem_memory
    max_memory Q vmem_maxMemory
0:2103 virt_disk_io
    capacity Q vdsk_capacity
    allocation Q vdsk_allocation
    available Q vdsk_available
    rd_req I vdsk_rd_req
    rd_bytes Q vdsk_rd_bytes
    wr_req I vdsk_wr_req
    wr_bytes Q vdsk_wr_bytes
    errs I vdsk_errs
0:2104 virt_net_io
    bytes_in Q vnio_bytes_in
    pkts_in I vnio_pkts_in
    errs_in I vnio_errs_in
    drops_in I vnio_drops_in
    bytes_out Q vnio_bytes_out
    pkts_out I vnio_pkts_out
    errs_out I vnio_errs_out
    drops_out I vnio_drops_out
0:2105 jvm_runtime
    vm_name s64 jvm_name
    vm_vendor s64 jvm_vendor
    vm_version s64 jvm_version
0:2106 jvm_statistics short=17
    heap_initial Q heap_mem_initial
    heap_used Q heap_mem_used
    heap_committed Q heap_mem_committed
    heap_max Q heap_mem_max
    non_heap_initial Q non_heap_mem_initial
    non_heap_used Q non_heap_mem_used
    non_heap_committed Q non_heap_mem_committed
    non_heap_max Q non_heap_mem_max
    gc_count I gc_count
    gc_time I gc_mS
    cl_loaded_count I classes_loaded
    cl_total_count I classes_total
    cl_unloaded_count I classes_unloaded
    comp_total_time I compilation_mS
    thread_num_live I threads_live
    thread_num_daemon I threads_daemon
    thread_num_started I threads_started
    fd_open_count I fds_open
    fd_max_count I fds_max
0:2200 memcache
    uptime I memcache_uptime
    rusage_user I memcache_rusage_user
    rusage_system I memcache_rusage_system
    curr_connections I memcache_curr_connections
    total_connections I memcache_total_connections
    connection_structures I memcache_connection_structures
    cmd_get I memcache_cmd_get
    cmd_set I memcache_cmd_set
    cmd_flush I memcache_cmd_flush
    get_hits I memcache_get_hits
    get_misses I memcache_get_misses
    delete_misses I memcache_delete_misses
    delete_hits I memcache_delete_hits
    incr_misses I memcache_incr_misses
    incr_hits I memcache_incr_hits
    decr_misses I memcache_decr_misses
    decr_hits I memcache_decr_hits
    cas_misses I memcache_cas_misses
    cas_hits I memcache_cas_hits
    cas_badval I memcache_cas_badval
    auth_cmds I memcache_auth_cmds
    auth_errors I memcache_auth_errors
    bytes_read Q memcache_bytes_read
    bytes_written Q memcache_bytes_written
    limit_maxbytes I memcache_limit_maxbytes
    accepting_conns I memcache_accepting_conns
    listen_disabled_num I memcache_listen_disabled_num
    threads I memcache_threads
    conn_yields I memcache_conn_yields
    bytes Q memcache_bytes
    curr_items I memcache_curr_items
    total_items I memcache_total_items
    evictions I memcache_evictions
0:2201 http
    method_option_count I http_method_option_count
    method_get_count I http_method_get_count
    method_head_count I http_method_head_count
    method_post_count I http_method_post_count
    method_put_count I http_method_put_count
    method_delete_count I http_method_delete_count
    method_trace_count I http_method_trace_count
    method_connect_count I http_methd_connect_count
    method_other_count I http_method_other_count
    status_1xx_count I http_status_1XX_count
    status_2xx_count I http_status_2XX_count
    status_3xx_count I http_status_3XX_count
    status_4xx_count I http_status_4XX_count
    status_5xx_count I http_status_5XX_count
    status_other_count I http_status_other_count
0:2202 app_operations
    application s32 application
    status_ok I status_OK
    errors_other I errors_OTHER
    errors_timeout I errors_TIMEOUT
    errors_internal_error I errors_INTERNAL_ERROR
    errors_bad_request I errors_BAD_REQUEST
    errors_forbidden I errors_FORBIDDEN
    errors_too_large I errors_TOO_LARGE
    errors_not_implemented I errors_NOT_IMPLEMENTED
    errors_not_found I errors_NOT_FOUND
    errors_unavailable I errors_UNAVAILABLE
    errors_unauthorized I errors_UNAUTHORIZED
0:2203 app_resources
    user_time I user_time
    system_time I system_time
    memory_used Q memory_used
    memory_max Q memory_max
    files_open I files_open
    files_max I files_max
    connections_open I connections_open
    connections_max I connections_max
0:2204 memcache2
    cmd_set I memcache_cmd_set
    cmd_touch I memcache_cmd_touch
    cmd_flush I memcache_cmd_flush
    get_hits I memcache_get_hits
    get_misses I memcache_get_misses
    delete_hits I memcache_delete_hits
    delete_misses I memcache_delete_misses
    incr_hits I memcache_incr_hits
    incr_misses I memcache_incr_misses
    decr_hits I memcache_decr_hits
    decr_misses I memcache_decr_misses
    cas_hits I memcache_cas_hits
    cas_misses I memcache_cas_misses
    cas_badval I memcache_cas_badval
    auth_cmds I memcache_auth_cmds
    auth_errors I memcache_auth_errors
    threads I memcache_threads
    conn_yields I memcache_conn_yields
    listen_disabled_num I memcache_listen_disabled_num
    curr_connections I memcache_curr_connections
    rejected_connections I memcache_rejected_connections
    total_connections I memcache_total_connections
    connection_structures I memcache_connection_structures
    evictions I memcache_evictions
    reclaimed I memcache_reclaimed
    curr_items I memcache_curr_items
    total_items I memcache_total_items
    bytes_read Q memcache_bytes_read
    bytes_written Q memcache_bytes_written
    bytes Q memcache_bytes
    limit_maxbytes Q memcache_limit_maxbytes
0:2205 vdi
    sessions_current I vdi_sessions_current
    sessions_total I vdi_sessions_total
    sessions_duration I vdi_sessions_duration
    rx_bytes I vdi_rx_bytes
    tx_bytes I vdi_tx_bytes
    rx_packets I vdi_rx_packets
    tx_packets I vdi_tx_packets
    rx_packets_lost I vdi_rx_packets_lost
    tx_packets_lost I vdi_tx_packets_lost
    rtt_min_ms I vdi_rtt_min_ms
    rtt_max_ms I vdi_rtt_max_ms
    rtt_avg_ms I vdi_rtt_avg_ms
    audio_rx_bytes I vdi_audio_rx_bytes
    audio_tx_bytes I vdi_audio_tx_bytes
    audio_tx_limit I vdi_audio_tx_limit
    img_rx_bytes I vdi_img_rx_bytes
    img_tx_bytes I vdi_img_tx_bytes
    img_frames I vdi_img_frames
    img_qual_min I vdi_img_qual_min
    img_qual_max I vdi_img_qual_max
    img_qual_avg I vdi_img_qual_avg
    usb_rx_bytes I vdi_usb_rx_bytes
    usb_tx_bytes I vdi_usb_tx_bytes
0:2206 app_workers
    workers_active I workers_active
    workers_idle I workers_idle
    workers_max I workers_max
    requests_delayed I requests_delayed
    requests_dropped I requests_dropped
0:2207 ovs_dp_stats
    n_hit I OVS_dp_hits
    n_missed I OVS_dp_misses
    n_lost I OVS_dp_lost
    n_mask_hit I OVS_dp_mask_hits
    n_flows I OVS_dp_flows
    n_masks I OVS_dp_masks
4413:3 bcm_tables
    asic_host_entries I bcm_asic_host_entries
    host_entries_max I bcm_host_entries_max
    ipv4_entries I bcm_ipv4_entries
    ipv4_entries_max I bcm_ipv4_entries_max
    ipv6_entries I bcm_ipv6_entries
    ipv6_entries_max I bcm_ipv6_entries_max
    ipv4_ipv6_entries I bcm_ipv4_ipv6_entries
    ipv4_ipv6_entries_max I bcm_ipv4_ipv6_entries_max
    long_ipv6_entries I bcm_long_ipv6_entries
    long_ipv6_entries_max I bcm_long_ipv6_entries_max
    total_routes I bcm_total_routes
    total_routes_max I bcm_total_routes_max
    ecmp_nexthops I bcm_ecmp_nexthops
    ecmp_nexthops_max I bcm_ecmp_nexthops_max
    mac_entries I bcm_mac_entries
    mac_entries_max I bcm_mac_entries_max
    ipv4_neighbors I bcm_ipv4_neighbors
    ipv6_neighbors I bcm_ipv6_neighbors
    ipv4_routes I bcm_ipv4_routes
    ipv6_routes I bcm_ipv6_routes
    acl_ingress_entries I bcm_acl_ingress_entries
    acl_ingress_entries_max I bcm_acl_ingress_entries_max
    acl_ingress_counters I bcm_acl_ingress_counters
    acl_ingress_counters_max I bcm_acl_ingress_counters_max
    acl_ingress_meters I bcm_acl_ingress_meters
    acl_ingress_meters_max I bcm_acl_ingress_meters_max
    acl_ingress_slices I bcm_acl_ingress_slices
    acl_ingress_slices_max I bcm_acl_ingress_slices_max
    acl_egress_entries I bcm_acl_egress_entries
    acl_egress_entries_max I bcm_acl_egress_entries_max
    acl_egress_counters I bcm_acl_egress_counters
    acl_egress_counters_max I bcm_acl_egress_counters_max
    acl_egress_meters I bcm_acl_egress_meters
    acl_egress_meters_max I bcm_acl_egress_meters_max
    acl_egress_slices I bcm_acl_egress_slices
    acl_egress_slices_max I bcm_acl_egress_slices_max
5703:1 gpu_nvml
    device_count I nvml_device_count
    processes I nvml_processes
    gpu_time I nvml_gpu_mS
    mem_time I nvml_mem_mS
    mem_bytes_total Q nvml_mem_bytes_total
    mem_bytes_free Q nvml_mem_bytes_free
    ecc_errors I nvml_ecc_errors
    energy I nvml_energy_mJ
    temperature I nvml_temperature_C
    fan_speed_pc I nvml_fan_speed_pc
"""


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # record field and line-protocol field name
    code: str  # see the module docstring
    key: str  # sflowtool -j key

    @property
    def fixed(self) -> bool:
        return self.code in _FIXED_CODES

    @property
    def string_cap(self) -> int:
        return int(self.code[1:]) if self.code.startswith("s") else 0


@dataclass(frozen=True)
class Counter:
    """One counter structure (a row of the table)."""

    tag: int  # enterprise << 12 | format
    name: str  # measurement suffix: sflow_<name>
    fields: tuple[Field, ...]
    short: int | None = None  # field count of the older, shorter form
    custom: bool = False  # nested lists: decoded by a hand-written function
    names: tuple[str, ...] = field(init=False)
    keys: tuple[str, ...] = field(init=False)
    key_by_name: dict[str, str] = field(init=False)
    fixed: bool = field(init=False)  # one Struct decodes the whole block
    struct: Struct | None = field(init=False)
    short_struct: Struct | None = field(init=False)
    macs: tuple[str, ...] = field(init=False)  # fields to render as MAC hex

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "names", tuple(f.name for f in self.fields))
        set_(self, "keys", tuple(f.key for f in self.fields))
        set_(self, "key_by_name", dict(zip(self.names, self.keys, strict=True)))
        fixed = not self.custom and all(f.fixed for f in self.fields)
        set_(self, "fixed", fixed)
        set_(self, "struct", _struct(self.fields) if fixed else None)
        short = _struct(self.fields[: self.short]) if fixed and self.short else None
        set_(self, "short_struct", short)
        set_(self, "macs", tuple(f.name for f in self.fields if f.code == "mac"))

    @property
    def measurement(self) -> str:
        return f"sflow_{self.name}"


def _struct(fields: tuple[Field, ...]) -> Struct:
    return Struct(">" + "".join(_FIXED_CODES[f.code] for f in fields))


def _parse(text: str) -> dict[int, Counter]:
    rows: dict[int, Counter] = {}
    head: list[str] = []
    fields: list[Field] = []

    def close() -> None:
        if not head:
            return
        ent, fmt = head[0].split(":")
        tag = int(ent) << 12 | int(fmt)
        opts = dict(o.partition("=")[::2] for o in head[2:])
        short = int(opts["short"]) if "short" in opts else None
        rows[tag] = Counter(tag, head[1], tuple(fields), short, "custom" in opts)

    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            close()
            head, fields = line.split(), []
        else:
            name, code, key = line.split()
            fields.append(Field(name, code, key))
    close()
    return rows


COUNTERS: dict[int, Counter] = _parse(_TABLE)
COUNTER_BY_NAME: dict[str, Counter] = {c.name: c for c in COUNTERS.values()}

__all__ = ["COUNTERS", "COUNTER_BY_NAME", "Counter", "Field"]
