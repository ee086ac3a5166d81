// The shape of rackboot.yaml. README.md documents every key; keep the two together.
const ipv4 = '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$';
const cidr = ipv4.slice(0, -1) + '/([0-9]|[12][0-9]|3[0-2])$';
const hostPort = '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):[0-9]{1,5}$';

const pool = {
  type: 'object',
  additionalProperties: false,
  required: ['start', 'end'],
  properties: { start: { type: 'string', pattern: ipv4 }, end: { type: 'string', pattern: ipv4 } },
};

export const settingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    interface: { type: 'string', minLength: 1, description: 'Provisioning interface; DHCP and TFTP answer only here.' },
    serverAddress: { type: 'string', pattern: ipv4 },
    dataDir: { type: 'string', minLength: 1 },
    inventory: { type: 'string', minLength: 1 },
    assetsDir: { type: 'string', minLength: 1 },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] },
    adminToken: { type: 'string', minLength: 16 },
    dhcp: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['full', 'proxy', 'off'] },
        subnet: { type: 'string', pattern: cidr },
        pool,
        gateway: { type: 'string', pattern: ipv4 },
        dns: { type: 'array', items: { type: 'string', pattern: ipv4 } },
        domain: { type: 'string' },
        leaseSeconds: { type: 'integer', minimum: 60, maximum: 604800 },
        efiBinary: { enum: ['ipxe.efi', 'snponly.efi'] },
        arm64Binary: { type: 'string', minLength: 1 },
        bootFileForInstalled: { type: 'boolean' },
        routerAdvertisement: { type: 'boolean' },
        leaseDurability: { enum: ['power', 'process'] },
        relays: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['subnet'],
            properties: {
              subnet: { type: 'string', pattern: cidr },
              pool,
              gateway: { type: 'string', pattern: ipv4 },
              dns: { type: 'array', items: { type: 'string', pattern: ipv4 } },
            },
          },
        },
      },
    },
    tftp: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        root: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        maxBlksize: { type: 'integer', minimum: 512, maximum: 65464 },
        maxWindowsize: { type: 'integer', minimum: 1, maximum: 64 },
        maxTransfers: { type: 'integer', minimum: 1, maximum: 10000 },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen: { type: 'string', pattern: hostPort },
        adminListen: { type: 'string', pattern: hostPort },
        adminTls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
        },
        publicUrl: { type: 'string', pattern: '^http://[^/\\s]+$' },
        allowAnonymousRead: { type: 'boolean' },
      },
    },
    lifecycle: {
      type: 'object',
      additionalProperties: false,
      properties: {
        timeouts: {
          type: 'object',
          additionalProperties: false,
          description: 'Seconds a node may stay in a step before it is marked failed; 0 disables.',
          properties: Object.fromEntries(
            ['booting', 'maintenance', 'configuring', 'installing', 'installed', 'wiping', 'reimage-pending'].map((k) => [k, { type: 'integer', minimum: 0, maximum: 604800 }]),
          ),
        },
        sweepSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
      },
    },
    bmc: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pollSeconds: { type: 'integer', minimum: 0, maximum: 86400, description: 'How often the daemon reads every BMC\'s power state for the page; 0 turns it off.' },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 300, description: 'Limit for one BMC read or request from the daemon and the API.' },
        // sol branch: Serial-over-LAN capture while a node PXE-boots.
        solSeconds: { type: 'integer', minimum: 0, maximum: 86400, description: 'Longest Serial-over-LAN capture after a power on/cycle with PXE (IPMI BMCs); it ends sooner when Talos\'s kernel log arrives. 0 turns capture off.' },
      },
    },
    power: {
      type: 'object',
      additionalProperties: false,
      properties: {
        resetFallbackSeconds: { type: 'integer', minimum: 0, maximum: 86400 },
        resetFallbackAttempts: { type: 'integer', minimum: 1, maximum: 100 },
        stuckRetry: { type: 'boolean' },
        waveSize: { type: 'integer', minimum: 1, maximum: 1000 },
        waveIntervalSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
        bmcTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 300 },
      },
    },
    console: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        linesPerNode: { type: 'integer', minimum: 10, maximum: 100000 },
      },
    },
    // ux-cli (issue 18): the Prometheus scrape token, which opens /metrics and nothing else.
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        token: { type: 'string', minLength: 16 },
      },
    },
    talos: {
      type: 'object',
      additionalProperties: false,
      properties: {
        consoles: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9,]+$' } },
        extraKernelArgs: { type: 'array', items: { type: 'string', pattern: '^\\S+$' } },
      },
    },
    factory: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^https?://[^/\\s]+(/[^\\s]*)?$', description: 'Image Factory base URL; tests and mirrors point it elsewhere.' },
      },
    },
    // day2-rollout: Talos upgrade rollouts.
    upgrade: {
      type: 'object',
      additionalProperties: false,
      properties: {
        parallelism: { type: 'integer', minimum: 1, maximum: 64, description: 'Workers upgraded at once (control planes always one at a time).' },
        returnSeconds: { type: 'integer', minimum: 10, maximum: 7200, description: 'How long a node may take to come back on the new version and healthy.' },
      },
    },
    // branch registry (issue 20): the appliance as the nodes' registry mirror.
    registry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mirror: { type: 'boolean', description: 'Configs name the appliance as mirror for the installer and cluster registries.' },
        offline: { type: 'boolean', description: 'The site has no route out: nodes must not fall back to the upstream registries.' },
      },
    },
    // day2-config
    day2: {
      type: 'object',
      additionalProperties: false,
      properties: {
        autoApply: { enum: ['none', 'no-reboot'], description: 'After an inventory reload, apply config changes Talos can take without a reboot to installed nodes.' },
      },
    },
    // branch pg-suite (issue 21): where the state lives; absent, the embedded SQLite in dataDir.
    store: {
      type: 'string', minLength: 1, pattern: '^(postgres(ql)?://|[a-z_]+=)',
      description: 'The shared PostgreSQL several appliances keep their state in: a postgres:// URI or libpq connection string, without a password (use ~/.pgpass or PGPASSFILE). Absent: the embedded SQLite store in dataDir.',
    },
    // scale-out (issue 21): the shared PostgreSQL for Talos leadership and the bootstrap state.
    scaleOut: {
      type: 'object',
      additionalProperties: false,
      properties: {
        postgres: {
          type: 'string', minLength: 1, pattern: '^(postgres(ql)?://|[a-z_]+=)',
          description: 'The older name of `store` (still read; setting both to different databases is an error).',
        },
        // branch pg-failover: DHCP failover on one segment.
        dhcpSegment: {
          type: 'string', minLength: 1, maxLength: 200,
          description: 'Names the segment this appliance serves DHCP on; appliances with the same name on one database take turns: one answers, the others stand by. Default: dhcp.subnet.',
        },
        dhcpPollMs: {
          type: 'integer', minimum: 100, maximum: 60000,
          description: 'How often a standby tries to take over DHCP on its segment (and the answerer checks its database session), in ms. Default 500.',
        },
      },
    },
    // branch commission (issue 17): unknown machines boot Talos maintenance mode so their hardware can be read.
    discovery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        commission: { type: 'boolean', description: 'Unknown machines get the Talos kernel with no config; rackboot reads their hardware and never installs them.' },
      },
    },
    // branch secureboot (issue 23): nodes that boot the Factory's UKI by UEFI HTTP boot.
    httpBoot: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ukiSilenceSeconds: {
          type: 'integer', minimum: 0, maximum: 3600,
          description: 'A node that fetched its UKI and then shows nothing (no DHCP from its kernel, no state change) for this long is failed, Secure Boot named as the likely cause (the firmware refused the image). 0 leaves it to lifecycle.timeouts.booting.',
        },
      },
    },
    // branch ipv6 (issue 23): DHCPv6 netboot where rackboot owns the segment.
    dhcpv6: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', description: 'Serve DHCPv6 (RFC 8415) with boot file URLs, and router advertisements with the managed flag and the prefix.' },
        prefix: { type: 'string', pattern: '^[0-9a-fA-F:]+/(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-8])$', description: 'The on-link prefix, /64 or longer.' },
        address: { type: 'string', pattern: '^[0-9a-fA-F:]+$', description: "rackboot's own address in the prefix, configured on the provisioning interface." },
        pool: { type: 'object', additionalProperties: false, required: ['start', 'end'], properties: { start: { type: 'string', pattern: '^[0-9a-fA-F:]+$' }, end: { type: 'string', pattern: '^[0-9a-fA-F:]+$' } } },
        dns: { type: 'array', items: { type: 'string', pattern: '^[0-9a-fA-F:]+$' } },
        leaseSeconds: { type: 'integer', minimum: 60, maximum: 604800 },
        rapidCommit: { type: 'boolean', description: 'Answer a Solicit that asks for Rapid Commit with a Reply (RFC 8415 §18.3.1).' },
      },
    },
  },
} as const;
