internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Owns the C memory that one call into rabbitmq-c needs (strings, tables, properties) and frees it
/// when the call is done. Keeps every pointer handed to C alive exactly as long as the call.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for b in blocks { free(b) }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        guard let p = malloc(max(size, 1)) else { preconditionFailure("out of memory") }
        blocks.append(p)
        return p
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        var s = string
        return s.withUTF8 { bytes($0) }
    }

    func bytes(_ buffer: UnsafeBufferPointer<UInt8>) -> amqp_bytes_t {
        let p = allocate(buffer.count)
        if let base = buffer.baseAddress { p.copyMemory(from: base, byteCount: buffer.count) }
        return amqp_bytes_t(len: buffer.count, bytes: p)
    }

    func bytes(_ array: [UInt8]) -> amqp_bytes_t {
        array.withUnsafeBufferPointer { bytes($0) }
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let utf8 = Array(string.utf8)
        let p = allocate(utf8.count + 1).assumingMemoryBound(to: CChar.self)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return UnsafePointer(p)
    }

    func table(_ table: AMQPTable?) -> amqp_table_t {
        guard let table, !table.isEmpty else { return amqp_empty_table }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * table.entries.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: table.entries.count)
        for (i, e) in table.entries.enumerated() {
            entries[i] = amqp_table_entry_t(key: bytes(e.key), value: fieldValue(e.value))
        }
        return amqp_table_t(num_entries: Int32(table.entries.count), entries: entries)
    }

    func fieldValue(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var v = amqp_field_value_t()
        func kind(_ k: amqp_field_value_kind_t) -> UInt8 { UInt8(truncatingIfNeeded: k.rawValue) }
        switch value {
        case .bool(let b): v.kind = kind(AMQP_FIELD_KIND_BOOLEAN); v.value.boolean = b ? 1 : 0
        case .int8(let x): v.kind = kind(AMQP_FIELD_KIND_I8); v.value.i8 = x
        case .uint8(let x): v.kind = kind(AMQP_FIELD_KIND_U8); v.value.u8 = x
        case .int16(let x): v.kind = kind(AMQP_FIELD_KIND_I16); v.value.i16 = x
        case .uint16(let x): v.kind = kind(AMQP_FIELD_KIND_U16); v.value.u16 = x
        case .int32(let x): v.kind = kind(AMQP_FIELD_KIND_I32); v.value.i32 = x
        case .uint32(let x): v.kind = kind(AMQP_FIELD_KIND_U32); v.value.u32 = x
        case .int64(let x): v.kind = kind(AMQP_FIELD_KIND_I64); v.value.i64 = x
        case .uint64(let x): v.kind = kind(AMQP_FIELD_KIND_U64); v.value.u64 = x
        case .float(let x): v.kind = kind(AMQP_FIELD_KIND_F32); v.value.f32 = x
        case .double(let x): v.kind = kind(AMQP_FIELD_KIND_F64); v.value.f64 = x
        case .decimal(let scale, let value):
            v.kind = kind(AMQP_FIELD_KIND_DECIMAL); v.value.decimal = amqp_decimal_t(decimals: scale, value: value)
        case .string(let s): v.kind = kind(AMQP_FIELD_KIND_UTF8); v.value.bytes = bytes(s)
        case .bytes(let b): v.kind = kind(AMQP_FIELD_KIND_BYTES); v.value.bytes = bytes(b)
        case .timestamp(let t): v.kind = kind(AMQP_FIELD_KIND_TIMESTAMP); v.value.u64 = t
        case .void: v.kind = kind(AMQP_FIELD_KIND_VOID)
        case .table(let t): v.kind = kind(AMQP_FIELD_KIND_TABLE); v.value.table = table(t)
        case .array(let items):
            v.kind = kind(AMQP_FIELD_KIND_ARRAY)
            let p = allocate(MemoryLayout<amqp_field_value_t>.stride * items.count)
                .bindMemory(to: amqp_field_value_t.self, capacity: max(items.count, 1))
            for (i, item) in items.enumerated() { p[i] = fieldValue(item) }
            v.value.array = amqp_array_t(num_entries: Int32(items.count), entries: p)
        }
        return v
    }

    func properties(_ p: AMQPProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let x = p.contentType { c.content_type = bytes(x); flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG) }
        if let x = p.contentEncoding {
            c.content_encoding = bytes(x); flags |= UInt32(AMQP_BASIC_CONTENT_ENCODING_FLAG)
        }
        if let x = p.headers { c.headers = table(x); flags |= UInt32(AMQP_BASIC_HEADERS_FLAG) }
        if let x = p.deliveryMode { c.delivery_mode = x; flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG) }
        if let x = p.priority { c.priority = x; flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG) }
        if let x = p.correlationID { c.correlation_id = bytes(x); flags |= UInt32(AMQP_BASIC_CORRELATION_ID_FLAG) }
        if let x = p.replyTo { c.reply_to = bytes(x); flags |= UInt32(AMQP_BASIC_REPLY_TO_FLAG) }
        if let x = p.expiration { c.expiration = bytes(x); flags |= UInt32(AMQP_BASIC_EXPIRATION_FLAG) }
        if let x = p.messageID { c.message_id = bytes(x); flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG) }
        if let x = p.timestamp { c.timestamp = x; flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG) }
        if let x = p.type { c.type = bytes(x); flags |= UInt32(AMQP_BASIC_TYPE_FLAG) }
        if let x = p.userID { c.user_id = bytes(x); flags |= UInt32(AMQP_BASIC_USER_ID_FLAG) }
        if let x = p.appID { c.app_id = bytes(x); flags |= UInt32(AMQP_BASIC_APP_ID_FLAG) }
        c._flags = amqp_flags_t(flags)
        return c
    }
}

/// Copies rabbitmq-c's decoded structures (which live in its pools) into Swift values.
enum CDecode {
    static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard b.len > 0, let p = b.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: b.len))
    }

    /// Decoded in place from rabbitmq-c's buffer (not copied into an `Array` first: five of these a message).
    static func string(_ b: amqp_bytes_t) -> String {
        guard b.len > 0, let p = b.bytes else { return "" }
        return String(
            decoding: UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: b.len), as: UTF8.self)
    }

    static func table(_ t: amqp_table_t, depth: Int = 1, tooDeep: inout Bool) -> AMQPTable {
        var out = AMQPTable()
        guard t.num_entries > 0, let entries = t.entries else { return out }
        for i in 0..<Int(t.num_entries) {
            out[string(entries[i].key)] = fieldValue(entries[i].value, depth: depth, tooDeep: &tooDeep)
        }
        return out
    }

    static func table(_ t: amqp_table_t) -> AMQPTable {
        var tooDeep = false
        return table(t, tooDeep: &tooDeep)
    }

    static func fieldValue(_ v: amqp_field_value_t, depth: Int, tooDeep: inout Bool) -> AMQPFieldValue {
        func is_(_ k: amqp_field_value_kind_t) -> Bool { UInt32(v.kind) == k.rawValue }
        if is_(AMQP_FIELD_KIND_BOOLEAN) { return .bool(v.value.boolean != 0) }
        if is_(AMQP_FIELD_KIND_I8) { return .int8(v.value.i8) }
        if is_(AMQP_FIELD_KIND_U8) { return .uint8(v.value.u8) }
        if is_(AMQP_FIELD_KIND_I16) { return .int16(v.value.i16) }
        if is_(AMQP_FIELD_KIND_U16) { return .uint16(v.value.u16) }
        if is_(AMQP_FIELD_KIND_I32) { return .int32(v.value.i32) }
        if is_(AMQP_FIELD_KIND_U32) { return .uint32(v.value.u32) }
        if is_(AMQP_FIELD_KIND_I64) { return .int64(v.value.i64) }
        if is_(AMQP_FIELD_KIND_U64) { return .uint64(v.value.u64) }
        if is_(AMQP_FIELD_KIND_F32) { return .float(v.value.f32) }
        if is_(AMQP_FIELD_KIND_F64) { return .double(v.value.f64) }
        if is_(AMQP_FIELD_KIND_DECIMAL) {
            return .decimal(scale: v.value.decimal.decimals, value: v.value.decimal.value)
        }
        if is_(AMQP_FIELD_KIND_UTF8) {
            let b = bytes(v.value.bytes)
            // ASCII needs no validation (and `String(validating:)` is slow in its generic path).
            if !b.contains(where: { $0 >= 0x80 }) { return .string(String(decoding: b, as: UTF8.self)) }
            if let s = String(validating: b, as: UTF8.self) { return .string(s) }
            return .bytes(b)
        }
        if is_(AMQP_FIELD_KIND_BYTES) { return .bytes(bytes(v.value.bytes)) }
        if is_(AMQP_FIELD_KIND_TIMESTAMP) { return .timestamp(v.value.u64) }
        if is_(AMQP_FIELD_KIND_TABLE) || is_(AMQP_FIELD_KIND_ARRAY) {
            guard depth < AMQPProperties.maximumHeaderDepth else {
                tooDeep = true
                return .void
            }
        }
        if is_(AMQP_FIELD_KIND_TABLE) { return .table(table(v.value.table, depth: depth + 1, tooDeep: &tooDeep)) }
        if is_(AMQP_FIELD_KIND_ARRAY) {
            var items: [AMQPFieldValue] = []
            if v.value.array.num_entries > 0, let e = v.value.array.entries {
                for i in 0..<Int(v.value.array.num_entries) {
                    items.append(fieldValue(e[i], depth: depth + 1, tooDeep: &tooDeep))
                }
            }
            return .array(items)
        }
        return .void
    }

    static func properties(_ c: amqp_basic_properties_t) -> AMQPProperties {
        let f = UInt32(c._flags)
        func has(_ flag: Int32) -> Bool { f & UInt32(flag) != 0 }
        var p = AMQPProperties()
        if has(AMQP_BASIC_CONTENT_TYPE_FLAG) { p.contentType = string(c.content_type) }
        if has(AMQP_BASIC_CONTENT_ENCODING_FLAG) { p.contentEncoding = string(c.content_encoding) }
        if has(AMQP_BASIC_HEADERS_FLAG) {
            var tooDeep = false
            p.headers = table(c.headers, tooDeep: &tooDeep)
            p.headersTooDeep = tooDeep
        }
        if has(AMQP_BASIC_DELIVERY_MODE_FLAG) { p.deliveryMode = c.delivery_mode }
        if has(AMQP_BASIC_PRIORITY_FLAG) { p.priority = c.priority }
        if has(AMQP_BASIC_CORRELATION_ID_FLAG) { p.correlationID = string(c.correlation_id) }
        if has(AMQP_BASIC_REPLY_TO_FLAG) { p.replyTo = string(c.reply_to) }
        if has(AMQP_BASIC_EXPIRATION_FLAG) { p.expiration = string(c.expiration) }
        if has(AMQP_BASIC_MESSAGE_ID_FLAG) { p.messageID = string(c.message_id) }
        if has(AMQP_BASIC_TIMESTAMP_FLAG) { p.timestamp = c.timestamp }
        if has(AMQP_BASIC_TYPE_FLAG) { p.type = string(c.type) }
        if has(AMQP_BASIC_USER_ID_FLAG) { p.userID = string(c.user_id) }
        if has(AMQP_BASIC_APP_ID_FLAG) { p.appID = string(c.app_id) }
        return p
    }

    static func message(_ m: amqp_message_t) -> AMQPMessage {
        AMQPMessage(body: bytes(m.body), properties: properties(m.properties))
    }
}
