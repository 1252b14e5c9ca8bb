# The report of bench/run.sh: reads its records (lines of key=value, one
# per measurement) and prints markdown tables and the verdict against the
# performance issue's targets. POSIX awk (Debian's mawk has no asort).
#
# Per system and QoS, each number is the median over rounds; ratios to a
# relay are taken within each round (the two ran minutes apart at most)
# and their median is shown. CPU is per input message of the process under
# test alone (utime + stime from /proc), not the broker's or the load
# generator's.
#
# The run's settings come from its first record (kind=meta): fanout,
# rounds, clk, closed_s, lat_s, over_s, inflight.

function median(key,    n, i, j, t, v) {
    n = cnt[key]
    if (n == 0) return ""
    for (i = 0; i < n; i++) v[i] = val[key, i]
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
}

# Values arrive as text; + 0 makes them numbers, so they sort as numbers.
function add(key, v) { val[key, cnt[key]++] = v + 0 }

function num(x) { return x == "" ? "—" : x }
function f0(x) { return x == "" ? "—" : sprintf("%.0f", x) }
function f1(x) { return x == "" ? "—" : sprintf("%.1f", x) }
function f2(x) { return x == "" ? "—" : sprintf("%.2f", x) }
function mb(kib) { return kib == "" ? "—" : sprintf("%.1f", kib / 1024) }

# Loss of every run of a system: "0" or "lost/dup/wrong of sent", plus
# the events of an earlier run that arrived during a later one (stale).
function loss(s, q,    k, t) {
    k = s SUBSEP q
    t = late[k] > 0 ? sprintf("; %d late", late[k]) : ""
    t = t (stale[k] > 0 ? sprintf("; %d stale", stale[k]) : "")
    if (lost[k] + dup[k] + wrong[k] == 0) return "0" t
    return lost[k] "/" dup[k] "/" wrong[k] " of " sent[k] t
}

function lat(kind, s, q,    a, b) {
    a = median(kind SUBSEP "p50" SUBSEP s SUBSEP q)
    b = median(kind SUBSEP "p99" SUBSEP s SUBSEP q)
    if (a == "") return "—"
    return sprintf("%.2f / %.2f", a / 1000, b / 1000)
}

# Median over rounds of metric(s) / metric(ref), paired by round.
function ratio(metric, s, ref, q,    r, key, a, b) {
    key = "ratio" SUBSEP metric SUBSEP s SUBSEP ref SUBSEP q
    if (!(key in done)) {
        done[key] = 1
        for (r = 1; r <= rounds; r++) {
            a = per[metric, s, q, r]; b = per[metric, ref, q, r]
            if (a != "" && b != "" && b > 0) add(key, a / b)
        }
    }
    return median(key)
}

function row(s, q, mref, pref,    thr, cpu, t1, c1, t2, c2) {
    thr = median("thr" SUBSEP s SUBSEP q)
    cpu = median("cpu" SUBSEP s SUBSEP q)
    t1 = mref == "" ? "" : ratio("thr", s, mref, q)
    c1 = mref == "" ? "" : ratio("cpu", s, mref, q)
    t2 = pref == "" ? "" : ratio("thr", s, pref, q)
    c2 = pref == "" ? "" : ratio("cpu", s, pref, q)
    printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", name[s], q,
        f0(thr), loss(s, q), lat("lat1k", s, q), lat("lathalf", s, q),
        mb(hwm[s, q]) " / " mb(uss[s, q]), f1(cpu),
        (mref == "" ? "—" : f2(t1) " / " f2(c1)),
        (pref == "" ? "—" : f2(t2) " / " f2(c2))
}

function header() {
    print "| System | QoS | msg/s | lost/dup/wrong | p50 / p99 ms at 1,000/s | p50 / p99 ms at ½ sustained | peak RSS / private (USS) MB | CPU µs/msg | × relay_mosq: msg/s / CPU | × relay_paho_sync: msg/s / CPU |"
    print "|---|---|---|---|---|---|---|---|---|---|"
}

# verdict(measured, target, ">=" or "<="): "met" or "missed by N %".
function verdict(m, t, op,    d) {
    if (m == "") return "not measured"
    if (op == ">=") {
        if (m >= t) return "**met**"
        return sprintf("**missed**: %.0f %% short", (1 - m / t) * 100)
    }
    if (m <= t) return "**met**"
    return sprintf("**missed**: %.0f %% over", (m / t - 1) * 100)
}

{
    delete f
    for (i = 1; i <= NF; i++) {
        eq = index($i, "=")
        if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    kind = f["kind"]; s = f["sys"]; q = f["qos"]; r = f["round"]
    if (kind == "meta") {
        fanout = f["fanout"]; rounds = f["rounds"]; clk = f["clk"]
        closed_s = f["closed_s"]; lat_s = f["lat_s"]; over_s = f["over_s"]
        inflight = f["inflight"]
        next
    }
    k = s SUBSEP q
    if (kind == "closed" || kind == "lat1k" || kind == "lathalf") {
        sent[k] += f["sent"]; lost[k] += f["lost"]
        dup[k] += f["dup"]; wrong[k] += f["wrong"]; stale[k] += f["stale"]
        late[k] += f["late"]
    }
    if (kind == "closed" && f["delivered"] > 0) {
        add("thr" SUBSEP k, f["out_rate"])
        c = f["cpu_ticks"] * 1e6 / clk / f["delivered"]
        add("cpu" SUBSEP k, c)
        add("broker" SUBSEP k, f["broker_ticks"] * 1e6 / clk / f["delivered"])
        per["thr", s, q, r] = f["out_rate"]; per["cpu", s, q, r] = c
        if (f["wall_s"] > 0) {
            add("core_sut" SUBSEP k, f["cpu_ticks"] / clk / f["wall_s"])
            add("core_broker" SUBSEP k, f["broker_ticks"] / clk / f["wall_s"])
            add("core_lg" SUBSEP k, f["cpu_s"] / f["wall_s"])
        }
    } else if ((kind == "lat1k" || kind == "lathalf") && f["events"] > 0) {
        add(kind SUBSEP "p50" SUBSEP k, f["p50_us"])
        add(kind SUBSEP "p99" SUBSEP k, f["p99_us"])
        add(kind SUBSEP "rate" SUBSEP k, f["target"])
    } else if (kind == "rss") {
        if (f["hwm_kib"] > hwm[k]) hwm[k] = f["hwm_kib"]
        if (f["anon_kib"] > anon[k]) anon[k] = f["anon_kib"]
        if (f["uss_kib"] > uss[k]) uss[k] = f["uss_kib"]
    } else if (kind == "overload" || kind == "filter") {
        for (x in f) rec[kind, x] = f[x]
        have[kind] = 1
    } else if (kind == "callgrind") {
        irmsg[f["config"]] = f["ir_per_msg"]
    } else if (kind == "scale") {
        n = f["n"]; scale_n[++n_scale] = n
        for (x in f) sc[n, x] = f[x]
    }
}

END {
    name["mosq"] = "relay_mosq"; name["paho"] = "relay_paho"
    name["pahos"] = "relay_paho_sync"; name["pahosF"] = "relay_paho_sync ×" fanout
    name["cg1"] = "citygate, 1 rule"
    name["cg1shm"] = "citygate, 1 rule, spool on tmpfs"
    name["mosqF"] = "relay_mosq ×" fanout; name["pahoF"] = "relay_paho ×" fanout
    name["city"] = "citygate, example city"

    print "## Results"
    print ""
    printf "Sustained rate: closed loop, %d messages in flight end to end, %s s per\n", inflight, closed_s
    printf "system and round; latency: fixed rate for %s s; %d round(s), systems\n", lat_s, rounds
    print "interleaved (A B A B) on one private mosquitto; medians over rounds. Payload"
    printf "210 B. The example city makes %d MQTT events (and one archive line) of each\n", fanout
    print "message, so its relays republish that many copies. lost/dup/wrong counts every"
    print "run of the row (messages lost, duplicate events, events that should not exist);"
    print "late messages came back complete only after the 5 s timeout; stale events"
    print "belong to an earlier run of the row and arrived during a later one."
    print ""
    print "### One rule (fan-out 1)"
    print ""
    header()
    for (q = 0; q <= 1; q++) {
        row("mosq", q, "", "")
        row("paho", q, "mosq", "")
        row("pahos", q, "mosq", "")
        row("cg1", q, "mosq", "pahos")
        if (q == 1) row("cg1shm", q, "mosq", "pahos")
    }
    print ""
    printf "### Example city (fan-out %d)\n", fanout
    print ""
    header()
    for (q = 0; q <= 1; q++) {
        row("mosqF", q, "", "")
        row("pahoF", q, "mosqF", "")
        row("pahosF", q, "mosqF", "")
        row("city", q, "mosqF", "pahosF")
    }

    print ""
    print "### Cost of QoS 1 and of the spool (citygate, one rule)"
    print ""
    print "| Run | msg/s | CPU µs/msg | msg/s vs QoS 0 | CPU vs QoS 0 | broker CPU µs/msg |"
    print "|---|---|---|---|---|---|"
    t0 = median("thr" SUBSEP "cg1" SUBSEP 0); c0 = median("cpu" SUBSEP "cg1" SUBSEP 0)
    split("cg1 0 QoS 0|cg1 1 QoS 1, spool on disk (/tmp)|cg1shm 1 QoS 1, spool on tmpfs (/dev/shm)", runs, "|")
    for (i = 1; i <= 3; i++) {
        split(runs[i], p, " "); s = p[1]; q = p[2]
        label = substr(runs[i], length(s) + length(q) + 3)
        t = median("thr" SUBSEP s SUBSEP q); c = median("cpu" SUBSEP s SUBSEP q)
        printf "| %s | %s | %s | %s | %s | %s |\n", label, f0(t), f1(c),
            ((t0 > 0 && t != "") ? f2(t / t0) : "—"), ((c0 > 0 && c != "") ? f2(c / c0) : "—"),
            f1(median("broker" SUBSEP s SUBSEP q))
    }

    print ""
    print "### Where the two cores went in the closed-loop runs"
    print ""
    print "CPU time over wall time of each loadgen run (1.00 = one core busy); the rest"
    print "was idle or taken by other processes on the machine."
    print ""
    print "| System | QoS | msg/s | system under test | broker | load generator | rest of 2 cores |"
    print "|---|---|---|---|---|---|---|"
    split("mosq paho pahos cg1 cg1shm mosqF pahoF pahosF city", order, " ")
    for (q = 0; q <= 1; q++)
        for (i = 1; i <= 9; i++) {
            s = order[i]; k = s SUBSEP q
            if (cnt["core_sut" SUBSEP k] == 0) continue
            a = median("core_sut" SUBSEP k); b = median("core_broker" SUBSEP k)
            c = median("core_lg" SUBSEP k)
            printf "| %s | %d | %s | %s | %s | %s | %s |\n", name[s], q,
                f0(median("thr" SUBSEP k)), f2(a), f2(b), f2(c), f2(2 - a - b - c)
        }

    S = rec["overload", "sustained"]
    print ""
    printf "### Overload: citygate, one rule, QoS 1, %s s at twice its sustained rate\n", over_s
    print ""
    print "| Sustained S | offered msg/s | delivered msg/s while offered (× S) | lost/dup/wrong | drain after s | citygate RSS MB start → max → end | citygate private MB max | broker RSS max MB |"
    print "|---|---|---|---|---|---|---|---|"
    if (have["overload"]) {
        wr = rec["overload", "window_rate"]
        printf "| %s | %s | %s (%s) | %s/%s/%s of %s | %s | %s → %s → %s | %s | %s |\n",
            f0(S), f0(rec["overload", "in_rate"]), f0(wr), (S > 0 ? f2(wr / S) : "—"),
            rec["overload", "lost"], rec["overload", "dup"], rec["overload", "wrong"],
            rec["overload", "sent"], f1(rec["overload", "drain_s"]),
            mb(rec["overload", "rss_start_kib"]), mb(rec["overload", "rss_max_kib"]),
            mb(rec["overload", "rss_end_kib"]), mb(rec["overload", "uss_max_kib"]),
            mb(rec["overload", "broker_rss_max_kib"])
    }
    if (have["filter"])
        printf "\nFilter check (one rule, QoS 1, 1,000 msg/s, every 4th message must be dropped): %s sent, %s rejected, %s delivered, %s lost, %s wrongly passed.\n",
            rec["filter", "sent"], rec["filter", "rejects"], rec["filter", "delivered"],
            rec["filter", "lost"], rec["filter", "wrong"]

    print ""
    print "### Rule scaling (generated rules over 1,000 topic filters, one event per message)"
    print ""
    print "| Rules | `citygate check` s | engine load ms | RSS after load MB | citygate peak RSS under load MB | instructions/msg | × 10 rules | engine ns/msg | loss under load |"
    print "|---|---|---|---|---|---|---|---|---|"
    base_ir = sc[10, "ir_per_msg"]
    for (i = 1; i <= n_scale; i++) {
        n = scale_n[i]
        l = sc[n, "lost"] + sc[n, "dup"] + sc[n, "wrong"]
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, sc[n, "check_s"],
            f1(sc[n, "load_ms"]), mb(sc[n, "rss_loaded_kib"]), mb(sc[n, "run_hwm_kib"]),
            f0(sc[n, "ir_per_msg"]), (base_ir > 0 ? f2(sc[n, "ir_per_msg"] / base_ir) : "—"),
            f0(sc[n, "ns_per_msg"]), (sc[n, "sent"] == "" ? "—" : (l == 0 ? "0" : sc[n, "lost"] "/" sc[n, "dup"] "/" sc[n, "wrong"]))
    }
    printf "\nEngine alone (callgrind, instructions per message): one rule %s, example city %s.\n",
        num(irmsg["one"]), num(irmsg["city"])

    print ""
    print "### Targets (issue 15: Paho at the limit)"
    print ""
    print "| Target | Measured | Verdict |"
    print "|---|---|---|"
    t = ratio("thr", "cg1", "mosq", 0)
    printf "| One rule, QoS 0: throughput ≥ 0.9 × relay_mosq | %s × | %s |\n", f2(t), verdict(t, 0.9, ">=")
    t = ratio("cpu", "cg1", "mosq", 0)
    printf "| One rule, QoS 0: CPU per message ≤ 1.5 × relay_mosq | %s × (%s vs %s µs) | %s |\n", f2(t),
        f1(median("cpu" SUBSEP "cg1" SUBSEP 0)), f1(median("cpu" SUBSEP "mosq" SUBSEP 0)), verdict(t, 1.5, "<=")
    t = ratio("thr", "cg1", "mosq", 1)
    printf "| One rule, QoS 1 with the spool: throughput ≥ 0.8 × relay_mosq | %s × | %s |\n", f2(t), verdict(t, 0.8, ">=")
    for (q = 0; q <= 1; q++) {
        t = ratio("thr", "city", "mosqF", q)
        printf "| Example city, QoS %d: throughput ≥ 0.8 × relay_mosq ×%d | %s × | %s |\n", q, fanout, f2(t), verdict(t, 0.8, ">=")
    }
    if (have["overload"]) {
        l = rec["overload", "lost"] + rec["overload", "dup"] + rec["overload", "wrong"]
        printf "| Overload 2 × for %s s at QoS 1: nothing lost | %s lost, %s dup, %s wrong | %s |\n", over_s,
            rec["overload", "lost"], rec["overload", "dup"], rec["overload", "wrong"],
            (rec["overload", "lost"] == 0 ? "**met**" : "**missed**")
        t = S > 0 ? wr / S : ""
        printf "| Overload: delivered rate ≥ 0.9 × sustained | %s × | %s |\n", f2(t), verdict(t, 0.9, ">=")
    }
    for (q = 0; q <= 1; q++) {
        t = median("lat1k" SUBSEP "p99" SUBSEP "cg1" SUBSEP q)
        printf "| p99 ≤ 2 ms at 1,000 msg/s, QoS %d | %s ms | %s |\n", q, (t == "" ? "—" : f2(t / 1000)), verdict((t == "" ? "" : t / 1000), 2, "<=")
    }
    for (q = 0; q <= 1; q++) {
        t = median("lathalf" SUBSEP "p99" SUBSEP "cg1" SUBSEP q)
        printf "| p99 ≤ 5 ms at half the sustained rate, QoS %d (%s msg/s) | %s ms | %s |\n", q,
            f0(median("lathalf" SUBSEP "rate" SUBSEP "cg1" SUBSEP q)), (t == "" ? "—" : f2(t / 1000)), verdict((t == "" ? "" : t / 1000), 5, "<=")
    }
    m = uss["city", 0] > uss["city", 1] ? uss["city", 0] : uss["city", 1]
    printf "| Private memory (USS), example city under load ≤ 3 MB | %s MB | %s |\n", mb(m), verdict((m == "" ? "" : m / 1024), 3, "<=")
    m = rec["overload", "uss_max_kib"]
    if (m != "")
        printf "| Private memory (USS), one rule under 2 × overload ≤ 3 MB | %s MB | %s |\n", mb(m), verdict(m / 1024, 3, "<=")
    t = base_ir > 0 ? sc[10000, "ir_per_msg"] / base_ir : ""
    printf "| Instructions per message, 10 → 10,000 rules ≤ 1.3 × | %s × | %s |\n", f2(t), verdict(t, 1.3, "<=")
    m = sc[10000, "run_hwm_kib"]
    printf "| Peak RSS with 10,000 rules ≤ 64 MB | %s MB | %s |\n", mb(m), verdict((m == "" ? "" : m / 1024), 64, "<=")
    t = sc[10000, "check_s"]
    printf "| `citygate check` of 10,000 rules < 1 s | %s s | %s |\n", num(t), verdict(t, 1, "<=")
}
