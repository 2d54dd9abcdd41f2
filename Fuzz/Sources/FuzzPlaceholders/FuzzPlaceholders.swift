import FuzzSupport
import Orion
@_spi(Fuzzing) import OrionPostgres

/// The PostgreSQL adapter's SQL reader (`PostgresSQL.statements(in:)` and `single(_:)`) over any
/// text: it returns statements or throws a `StoreError`, and what it returns holds together.
///
/// - Each statement's text is its original with every `?` run rewritten in place: a run of `?`
///   inside a quote or comment stays as it is; outside, each `??` becomes `?` and a last single
///   `?` becomes `$k`, with k counting 1, 2, 3… through the statement, up to `parameterCount`.
/// - Reading a statement's original again gives that same statement.
/// - `?` decides nothing else: with every `?` replaced by `!` the same statements are found, with
///   the same words and flags (or the same error).
/// - `single` finds the one statement, or refuses none or several.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlaceholders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let sql = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let found = read(sql)

    let noMarks = String(decoding: sql.utf8.map { $0 == UInt8(ascii: "?") ? UInt8(ascii: "!") : $0 }, as: UTF8.self)
    let foundNoMarks = read(noMarks)
    switch (found, foundNoMarks) {
    case (.success(let statements), .success(let others)):
        require(statements.count == others.count, "\(shown(sql)): \(statements.count) statements, \(others.count) with ? replaced")
        for (statement, other) in zip(statements, others) {
            let marked = statement.words.map { String(decoding: $0.utf8.map { $0 == UInt8(ascii: "?") ? UInt8(ascii: "!") : $0 }, as: UTF8.self) }
            require(
                marked == other.words && statement.callsSetConfig == other.callsSetConfig
                    && statement.callsNotify == other.callsNotify && statement.selectsInto == other.selectsInto,
                "\(shown(statement.original)) reads differently with ? replaced")
            require(other.parameterCount == 0 && other.text == other.original, "\(shown(other.original)) has no ?, yet was rewritten")
            require(
                other.original.utf8.elementsEqual(statement.original.utf8.map { $0 == UInt8(ascii: "?") ? UInt8(ascii: "!") : $0 }),
                "\(shown(statement.original)) splits differently with ? replaced")
        }
    case (.failure(let error), .failure(let other)):
        require(error.code == other.code, "\(shown(sql)): \(error.code), with ? replaced \(other.code)")
    default:
        require(false, "\(shown(sql)) and its ?-less twin differ in success: \(found) vs \(foundNoMarks)")
    }

    guard case .success(let statements) = found else {
        if case .failure(let error) = found {
            require(error.code == .sql || error.code == .unsupportedParameter, "\(shown(sql)) threw \(error.code): \(error.message)")
        }
        return 0
    }
    for statement in statements {
        check(statement)
        // Reading the statement again, alone, finds it again.
        switch read(statement.original) {
        case .success(let again):
            require(again == [statement], "\(shown(statement.original)) reads as \(again), alone as \(statement)")
        case .failure(let error):
            require(false, "\(shown(statement.original)) read in \(shown(sql)), alone it throws \(error.code): \(error.message)")
        }
    }

    // single: the one statement, or a refusal of none or several.
    do {
        let one = try OrionPostgresFuzzing.single(sql)
        require(statements == [one], "single(\(shown(sql))) = \(one), statements found \(statements.count)")
    } catch let error as StoreError {
        switch statements.count {
        case 0: require(error.code == .sql, "single(\(shown(sql))) with no statement threw \(error.code)")
        case 1: require(false, "single(\(shown(sql))) threw \(error.code) for one statement")
        default: require(error.code == .multipleStatements, "single(\(shown(sql))) with \(statements.count) statements threw \(error.code)")
        }
    } catch {
        require(false, "single(\(shown(sql))) threw \(type(of: error)), not a StoreError")
    }
    return 0
}

private func read(_ sql: String) -> Result<[OrionPostgresFuzzing.Statement], StoreError> {
    do {
        return .success(try OrionPostgresFuzzing.statements(in: sql))
    } catch let error as StoreError {
        return .failure(error)
    } catch {
        fatalError("statements(in: \(shown(sql))) threw \(type(of: error)), not a StoreError")
    }
}

/// Walks the original and the rewritten text side by side (see the file's summary).
private func check(_ statement: OrionPostgresFuzzing.Statement) {
    let original = Array(statement.original.utf8)
    let text = Array(statement.text.utf8)
    let question = UInt8(ascii: "?")
    var i = 0
    var j = 0
    var next = 1
    func fail(_ why: String) -> Never {
        fatalError("invariant failed: \(shown(original)) → \(shown(text)) (\(statement.parameterCount) parameters): \(why) at \(i)/\(j)")
    }
    while i < original.count {
        if original[i] == question {
            var run = 0
            while i + run < original.count && original[i + run] == question { run += 1 }
            var kept = 0
            while j + kept < text.count && text[j + kept] == question { kept += 1 }
            if kept == run {
                i += run
                j += kept
                continue
            }
            guard kept == run / 2 else { fail("a run of \(run) ? became \(kept)") }
            i += run
            j += kept
            if run % 2 == 1 {
                let placeholder = Array("$\(next)".utf8)
                guard text[j...].starts(with: placeholder) else { fail("expected $\(next)") }
                j += placeholder.count
                next += 1
            }
        } else {
            guard j < text.count, text[j] == original[i] else { fail("the texts differ") }
            i += 1
            j += 1
        }
    }
    guard j == text.count else { fail("the text is longer") }
    guard next - 1 == statement.parameterCount else { fail("found \(next - 1) placeholders") }
    require(statement.words.count <= 3, "\(shown(original)) has words \(statement.words)")
    for word in statement.words {
        require(!word.isEmpty && !word.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }, "\(shown(original)) has word \(shown(word))")
    }
    if statement.selectsInto {
        require(["select", "with", "values", "table"].contains(statement.words.first ?? ""), "\(shown(original)) selects into, yet starts \(statement.words)")
    }
}
