import CronqAMQP
import Testing

@Suite("AMQP URL parsing")
struct AMQPURLTests {
    @Test("a full URL")
    func full() throws {
        let u = try AMQPURL("amqp://cronq:s3cr%40t@broker.internal:5673/%2F?heartbeat=5&connection_timeout=2500")
        #expect(!u.tls)
        #expect(u.user == "cronq")
        #expect(u.password == "s3cr@t")
        #expect(u.host == "broker.internal")
        #expect(u.port == 5673)
        #expect(u.vhost == "/")
        #expect(u.heartbeatSeconds == 5)
        #expect(u.connectionTimeoutMilliseconds == 2500)
    }

    @Test("defaults: guest, port by scheme, vhost /, heartbeat 10 s")
    func defaults() throws {
        let u = try AMQPURL("amqp://localhost")
        #expect(u.user == "guest" && u.password == "guest")
        #expect(u.port == 5672)
        #expect(u.vhost == "/")
        #expect(u.heartbeatSeconds == 10)
        let s = try AMQPURL("amqps://h/prod")
        #expect(s.tls)
        #expect(s.port == 5671)
        #expect(s.vhost == "prod")
    }

    @Test("IPv6 host and CA file")
    func ipv6() throws {
        let u = try AMQPURL("amqps://u:p@[::1]:5671/v?cacertfile=%2Fetc%2Fca.pem")
        #expect(u.host == "::1")
        #expect(u.port == 5671)
        #expect(u.caFile == "/etc/ca.pem")
    }

    @Test(
        "bad URLs are refused with a reason",
        arguments: [
            ("http://localhost", "scheme"),
            ("amqp://h:99999/", "port"),
            ("amqp://h:abc/", "port"),
            ("amqp://h/a/b", "vhost"),
            ("amqp://h/?heartbeat=-1", "heartbeat"),
            ("amqp://h/?bogus=1", "unknown query key"),
            ("amqp://u:p%zz@h/", "percent"),
            ("amqp://[::1/", "IPv6"),
        ])
    func bad(url: String, mentions: String) {
        do {
            _ = try AMQPURL(url)
            Issue.record("\(url) was accepted")
        } catch let e as AMQPError {
            #expect(e.code == .invalidURL)
            #expect(e.description.contains(mentions), "\(e) should mention \(mentions)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("description hides the password")
    func redacted() throws {
        let u = try AMQPURL("amqp://user:hunter2@h:5672/%2F")
        #expect(!u.description.contains("hunter2"))
        #expect(u.description == "amqp://user:***@h:5672/%2F")
    }

    @Test(
        "a password with unescaped / ? # : is read whole and never appears in an error",
        arguments: ["pa/ss?wd#x", "p?heartbeat=zz", "pa:ss/w", "x/y"])
    func passwordNeverInErrors(password: String) throws {
        let ok = try AMQPURL("amqp://user:\(password)@h:5672/%2F")
        #expect(ok.password == password && ok.host == "h" && ok.vhost == "/")
        for broken in [
            "amqp://user:\(password)@h:99999/%2F", "amqp://user:\(password)@h/a/b",
            "amqp://user:\(password)@h/?bogus=1",
            "amqp://user:\(password)%zz@h/",
        ] {
            do {
                _ = try AMQPURL(broken)
                Issue.record("\(broken) was accepted")
            } catch {
                #expect(!"\(error)".contains(password), "\(error)")
                #expect(!String(reflecting: error).contains(password))
            }
        }
    }
}
