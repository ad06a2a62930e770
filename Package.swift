// swift-tools-version:6.1
import PackageDescription

// Dependencies are declared once, pinned with `from:` to versions the local mirror carries.
let argumentParser: Package.Dependency = .package(
    url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0")
let swiftLog: Package.Dependency = .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0")
let swiftMetrics: Package.Dependency = .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0")
let swiftPrometheus: Package.Dependency = .package(
    url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0")
let swiftNIO: Package.Dependency = .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0")
let swiftCollections: Package.Dependency = .package(
    url: "https://github.com/apple/swift-collections.git", from: "1.1.0")
// The dashboard (`cronq web`): its HTTP server and its templates. No traits: cronq reads its own TOML.
let hummingbird: Package.Dependency = .package(
    url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: [])
let swiftMustache: Package.Dependency = .package(
    url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0")

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "cronq",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cronq", targets: ["cronq"]),
        .executable(name: "cronq-ticker", targets: ["cronq-ticker"]),
        .executable(name: "cronq-worker", targets: ["cronq-worker"]),
    ],
    dependencies: [
        argumentParser, swiftLog, swiftMetrics, swiftPrometheus, swiftNIO, swiftCollections, hummingbird,
        swiftMustache,
    ],
    targets: [
        // C libraries: one system-library target each, imported only by its wrapper module.
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // glibc's malloc_trim, for the ticker after loading a large configuration.
        .target(name: "CSystemMemory"),

        // Pure core: cron, config, job message, outcome rules, topology model. No C, no sockets.
        // (Its one dependency: the fire planner's heap, from swift-collections.)
        .target(
            name: "CronqCore", dependencies: [.product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: upcoming),
        // The one Swift layer over rabbitmq-c.
        .target(name: "CronqAMQP", dependencies: ["CRabbitMQ"], swiftSettings: upcoming),
        // The one Swift layer over libcurl.
        .target(name: "CronqHTTP", dependencies: ["CCurl"], swiftSettings: upcoming),
        // The one Swift layer over OpenSSL's libcrypto (HMAC-SHA256, SHA-256, random bytes): already in
        // every process through libcurl, and free of Foundation, which the worker does not load.
        .target(name: "CronqCrypto", dependencies: ["CLibCrypto"], swiftSettings: upcoming),
        // Services and operations that join the core to the I/O layers.
        .target(
            name: "CronqRuntime",
            dependencies: [
                "CronqCore", "CronqAMQP", "CronqHTTP", "CSystemMemory",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                "CronqCrypto",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming),

        // `cronq web`: the dashboard's routes, sessions, pages (Mustache templates and assets, embedded) and the
        // broker reads behind them. Only `cronq` links it; the services stay small.
        .target(
            name: "CronqWeb",
            dependencies: [
                "CronqCore", "CronqRuntime", "CronqAMQP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                "CronqCrypto",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Templates"), .embedInCode("Assets")],
            swiftSettings: upcoming),

        .executableTarget(
            name: "cronq",
            dependencies: [
                "CronqCore", "CronqRuntime", "CronqAMQP", "CronqWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming),
        // Options the two services share (logging, metrics endpoint).
        .target(
            name: "CronqServiceCLI",
            dependencies: [
                "CronqAMQP", "CronqCore", "CronqRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming),
        .executableTarget(
            name: "cronq-ticker",
            dependencies: [
                "CronqCore", "CronqRuntime", "CronqServiceCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming),
        .executableTarget(
            name: "cronq-worker",
            dependencies: [
                "CronqCore", "CronqRuntime", "CronqServiceCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming),

        // Helpers the test targets share: child processes (test backend, proxy), threads, the test broker.
        .target(name: "CronqTestSupport", path: "Tests/CronqTestSupport", swiftSettings: upcoming),
        // `make bench`: measurements, never timed tests.
        .executableTarget(
            name: "cronq-bench",
            dependencies: [
                "CronqCore", "CronqAMQP", "CronqHTTP", "CronqRuntime", "CSystemMemory", "CronqWeb",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming),

        // `make fuzz`: a seeded random generator throws millions of inputs at the cron parser and the config loader.
        .executableTarget(name: "cronq-fuzz", dependencies: ["CronqCore"], swiftSettings: upcoming),

        .testTarget(
            name: "CronqCoreTests", dependencies: ["CronqCore"], exclude: ["Fixtures"], swiftSettings: upcoming),
        .testTarget(
            name: "CronqAMQPTests", dependencies: ["CronqAMQP", "CronqCore", "CronqTestSupport"],
            swiftSettings: upcoming),
        .testTarget(
            name: "CronqRuntimeTests",
            dependencies: [
                "CronqRuntime", "CronqCore", "CronqAMQP", "CronqHTTP", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming),
        .testTarget(
            name: "CronqWebTests",
            dependencies: [
                "CronqWeb", "CronqCore", "CronqRuntime", "CronqTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: upcoming),
        .testTarget(name: "CronqHTTPTests", dependencies: ["CronqHTTP", "CronqTestSupport"], swiftSettings: upcoming),
        .testTarget(name: "CronqCryptoTests", dependencies: ["CronqCrypto"], swiftSettings: upcoming),
        .testTarget(
            name: "CronqIntegrationTests",
            dependencies: [
                "CronqCore", "CronqAMQP", "CronqHTTP", "CronqRuntime", "CronqTestSupport",
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: upcoming),
    ]
)
