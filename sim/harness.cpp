// spikecore virtual board: the Verilated top level (ports clk, rst, rx, tx) with its UART pins
// bridged to a TCP socket or a pty.
//
//   harness [--port P] [--host ADDR] | --pty      serve (prints socket://ADDR:PORT or the pty)
//           [--divisor D] [--chunk N] [--idle-cycles N] [--idle-poll-ms T]
//           [--idle-limit S] [--watch-stdin] [--stats] [--trace FILE.vcd]
//   harness --bench-cycles N                      simulate N idle cycles, print cycles/s
//
// The clock is simulated cycle by cycle. Host bytes are serialized onto `rx` as 8N1 frames of
// D clock cycles per bit (start bit, 8 data bits LSB first, one stop bit), exactly as a USB
// serial adapter would drive the pin; `tx` is deserialized by sampling the middle of each bit.
// Between chunks of N cycles the link is polled without blocking. Once nothing has moved on
// either pin for --idle-cycles cycles, no host bytes are waiting and no frame is owed a reply,
// the harness sleeps in poll() for up to --idle-poll-ms between chunks instead of spinning.
// (A frame is owed a reply from its closing delimiter until the device's next frame ends:
// a RUN of many long steps keeps the pins quiet while the core works, and must not be slowed
// down to the idle pace. An owed reply counts for at most 2^26 quiet cycles, so a frame that
// never gets one cannot keep the harness spinning.)
//
// One client at a time: further connections wait in the listen backlog. The client's socket is
// read as fast as it sends (up to 64 MiB ahead of the wire, more than Linux's socket buffers
// hold by default), so that its leaving is seen at once, however much it left unsent. A client
// may vanish at any point, like an unplugged serial adapter: the bytes it sent that are not yet
// on the wire are discarded at once and the byte on the wire is finished (never cut, so the
// device's receiver is not left mid-byte). Before the next client is accepted the harness
// finishes what the vanished one started: a frame it left half-sent is ended with a 0x00 (as
// the next client's opening 0x00 would end it), and the device's replies to every frame that
// reached the wire are awaited and discarded, then the pins must have been quiet for two byte
// times. Replies are awaited for at most 2^22 quiet cycles (frames whose bytes the device lost
// cannot hold the board), and not at all from a device that has been seen sending with no frame
// owed (one that does not answer frame by frame, like the tests' echo stand-in). What the device
// sends while no client is connected, or before the current client has sent anything, is
// dropped too, so a new client does not read replies meant for a previous one.
//
// A client that holds the board without using it is disconnected when another client waits:
// after --idle-limit seconds (default 10; 0: never) in which no byte moved either way and no
// reply was owed to it. A client alone may stay idle. (The default is below the 20 s a waiting
// spikecore driver tries to identify for: 5 s timeout, 4 attempts.)

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

#ifndef SIM_DIVISOR
#define SIM_DIVISOR 4
#endif

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const char *what) {
    std::fprintf(stderr, "spikecore-sim: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        die("fcntl");
}

// A byte queue with cheap pops from the front.
struct ByteQueue {
    std::vector<uint8_t> buf;
    size_t head = 0;

    size_t size() const { return buf.size() - head; }
    bool empty() const { return head == buf.size(); }
    const uint8_t *data() const { return buf.data() + head; }
    void push(const uint8_t *p, size_t n) { buf.insert(buf.end(), p, p + n); }
    void push(uint8_t b) { buf.push_back(b); }
    uint8_t pop() { uint8_t b = buf[head++]; compact(); return b; }
    void drop(size_t n) { head += n; compact(); }
    void clear() { buf.clear(); head = 0; }
    void compact() {
        if (head == buf.size()) { buf.clear(); head = 0; }
        else if (head > 65536 && head * 2 > buf.size()) {
            buf.erase(buf.begin(), buf.begin() + head); head = 0;
        }
    }
};

// Counts COBS frames in a byte stream: a run of non-zero bytes closed by a 0x00 delimiter.
// Counts the frames that are owed a reply: every non-empty frame but `01 00`, which COBS
// decodes to an empty payload and which the device ignores like `00` (docs/protocol.md).
struct FrameCounter {
    uint64_t frames = 0;
    uint64_t length = 0;       // bytes of the open frame
    uint8_t first = 0;
    void feed(uint8_t b) {
        if (b != 0) {
            if (length++ == 0) first = b;
        } else {
            if (length > 1 || (length == 1 && first != 0x01)) frames++;
            length = 0;
        }
    }
};

// Drives the FPGA's `rx` pin: 8N1, `divisor` cycles per bit.
struct Serializer {
    int divisor;
    int bit = -1;      // -1 idle, 0 start, 1..8 data, 9 stop
    int count = 0;     // cycles left in the current bit
    uint8_t byte = 0;
    FrameCounter frames;   // the frames put on the wire (a byte counts from its start bit)

    bool busy() const { return bit >= 0; }

    // Return the pin level for this cycle, taking the next byte from `q` when idle.
    int level(ByteQueue &q) {
        if (bit < 0) {
            if (q.empty()) return 1;
            byte = q.pop();
            frames.feed(byte);
            bit = 0;
            count = divisor;
        }
        int out = bit == 0 ? 0 : bit == 9 ? 1 : (byte >> (bit - 1)) & 1;
        if (--count == 0) {
            count = divisor;
            if (++bit == 10) bit = -1;
        }
        return out;
    }
};

// Samples the FPGA's `tx` pin in the middle of each bit.
struct Deserializer {
    int divisor;
    int bit = -1;      // -1 idle (waiting for a start edge), else the bit being sampled next
    int count = 0;
    uint8_t byte = 0;
    uint64_t framing_errors = 0;

    bool busy() const { return bit >= 0; }

    // Feed one cycle's pin level; return true and set `out` when a byte completes.
    bool sample(int level, uint8_t &out) {
        if (bit < 0) {
            if (level) return false;
            bit = 0;
            count = divisor / 2;   // middle of the start bit
            if (count == 0) count = 1;
            return false;
        }
        if (--count) return false;
        count = divisor;
        if (bit == 0) {
            if (level) bit = -1;   // glitch, not a start bit
            else bit = 1;
            return false;
        }
        if (bit <= 8) {
            byte = (byte >> 1) | (level ? 0x80 : 0);
            bit++;
            return false;
        }
        bit = -1;                  // stop bit
        if (!level) { framing_errors++; return false; }
        out = byte;
        return true;
    }
};

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    bool pty = false;
    int divisor = SIM_DIVISOR;
    int chunk = 0;                 // 0: derived from the divisor
    uint64_t idle_cycles = 1u << 18;
    int idle_poll_ms = 20;
    double idle_limit = 10;        // seconds; 0: an idle client is never disconnected
    bool watch_stdin = false;
    bool stats = false;
    std::string trace;
    uint64_t bench_cycles = 0;
};

void usage() {
    std::fprintf(stderr,
        "usage: harness [--port P] [--host ADDR] | --pty  [--divisor D] [--chunk N]\n"
        "               [--idle-cycles N] [--idle-poll-ms T] [--idle-limit S]\n"
        "               [--watch-stdin] [--stats] [--trace FILE.vcd]\n"
        "       harness --bench-cycles N\n");
    std::exit(2);
}

Options parse(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> const char * {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--port") o.port = std::atoi(value());
        else if (a == "--host") o.host = value();
        else if (a == "--pty") o.pty = true;
        else if (a == "--divisor") o.divisor = std::atoi(value());
        else if (a == "--chunk") o.chunk = std::atoi(value());
        else if (a == "--idle-cycles") o.idle_cycles = std::strtoull(value(), nullptr, 10);
        else if (a == "--idle-poll-ms") o.idle_poll_ms = std::atoi(value());
        else if (a == "--idle-limit") {
            const char *v = value();
            char *end = nullptr;
            o.idle_limit = std::strtod(v, &end);
            if (end == v || *end || !(o.idle_limit >= 0)) {
                std::fprintf(stderr, "spikecore-sim: --idle-limit must be a number of seconds "
                                     ">= 0, not %s\n", v);
                usage();
            }
        }
        else if (a == "--watch-stdin") o.watch_stdin = true;
        else if (a == "--stats") o.stats = true;
        else if (a == "--trace") o.trace = value();
        else if (a == "--bench-cycles") o.bench_cycles = std::strtoull(value(), nullptr, 10);
        else usage();
    }
    if (o.divisor < 2) { std::fprintf(stderr, "spikecore-sim: --divisor must be >= 2\n"); usage(); }
    if (o.chunk <= 0) o.chunk = 64 * o.divisor;
    return o;
}

class Board {
public:
    explicit Board(const Options &o) : ctx_(new VerilatedContext), top_(new Vtop{ctx_.get()}) {
#if VM_TRACE
        if (!o.trace.empty()) {
            ctx_->traceEverOn(true);
            trace_.reset(new VerilatedVcdC);
            top_->trace(trace_.get(), 99);
            trace_->open(o.trace.c_str());
        }
#else
        if (!o.trace.empty())
            std::fprintf(stderr, "spikecore-sim: built without tracing; --trace ignored\n");
#endif
        top_->clk = 0;
        top_->rst = 1;
        top_->rx = 1;
        top_->eval();
        for (int i = 0; i < 16; i++) tick(1);
        top_->rst = 0;
    }

    ~Board() {
        top_->final();
#if VM_TRACE
        if (trace_) trace_->close();
#endif
    }

    // One clock cycle with `rx` at `rx`; return `tx` after the rising edge.
    inline int tick(int rx) {
        top_->rx = rx;
        top_->clk = 1;
        top_->eval();
#if VM_TRACE
        if (trace_) { ctx_->timeInc(1); trace_->dump(ctx_->time()); }
#endif
        int tx = top_->tx;
        top_->clk = 0;
        top_->eval();
#if VM_TRACE
        if (trace_) { ctx_->timeInc(1); trace_->dump(ctx_->time()); }
#endif
        cycles++;
        return tx;
    }

    uint64_t cycles = 0;

private:
    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Vtop> top_;
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> trace_;
#endif
};

// Listen on o.host (a name, an IPv4 or an IPv6 address) and o.port; return the socket, and
// the URL clients connect to in url_out.
int open_listener(const Options &o, std::string &url_out) {
    addrinfo hints{}, *found = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    std::string port = std::to_string(o.port);
    int err = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found);
    if (err != 0) {
        std::fprintf(stderr, "spikecore-sim: bad --host %s: %s\n", o.host.c_str(),
                     gai_strerror(err));
        std::exit(2);
    }
    int fd = socket(found->ai_family, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, found->ai_addr, found->ai_addrlen) < 0) die("bind");
    freeaddrinfo(found);
    if (listen(fd, 64) < 0) die("listen");
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) < 0) die("getsockname");
    char text[INET6_ADDRSTRLEN] = "";
    int bound_port = 0;
    if (addr.ss_family == AF_INET6) {
        auto *a6 = reinterpret_cast<sockaddr_in6 *>(&addr);
        inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof text);
        bound_port = ntohs(a6->sin6_port);
        url_out = std::string("socket://[") + text + "]:" + std::to_string(bound_port);
    } else {
        auto *a4 = reinterpret_cast<sockaddr_in *>(&addr);
        inet_ntop(AF_INET, &a4->sin_addr, text, sizeof text);
        bound_port = ntohs(a4->sin_port);
        url_out = std::string("socket://") + text + ":" + std::to_string(bound_port);
    }
    set_nonblocking(fd);
    return fd;
}

// Open a pty pair; return the master, keep the (raw) slave open so the master never sees a
// hang-up between clients.
int open_pty(std::string &path, int &slave) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) die("posix_openpt");
    if (grantpt(master) < 0 || unlockpt(master) < 0) die("grantpt/unlockpt");
    const char *name = ptsname(master);
    if (!name) die("ptsname");
    path = name;
    slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) die("open pty slave");
    termios t{};
    if (tcgetattr(slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(slave, TCSANOW, &t);
    }
    set_nonblocking(master);
    return master;
}

double now() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

int bench(const Options &o) {
    Board board(o);
    double t0 = now();
    for (uint64_t i = 0; i < o.bench_cycles; i++) board.tick(1);
    double dt = now() - t0;
    std::printf("%llu cycles in %.3f s: %.0f cycles/s\n",
                static_cast<unsigned long long>(o.bench_cycles), dt, o.bench_cycles / dt);
    return 0;
}

}  // namespace

// Quiet cycles an owed reply keeps the harness at full speed (a RUN frame's longest work is
// far shorter at any geometry built here).
constexpr uint64_t kOwedReplyCycles = 1ull << 26;
// Quiet cycles the replies owed to a vanished client are awaited before the next is served.
constexpr uint64_t kSettleCycles = 1ull << 22;

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGHUP, on_signal);
    if (o.bench_cycles) return bench(o);

    Board board(o);
    Serializer ser{o.divisor};
    Deserializer des{o.divisor};
    ByteQueue to_fpga, to_host;
    // Host bytes read ahead of the wire: a socket as much as the client sends (so that its
    // end is seen at once), a pty a few KiB, as a serial port's buffer.
    const size_t in_limit = o.pty ? 4096 : size_t(64) << 20;
    const size_t out_limit = 1u << 20;      // device bytes kept for a slow reader
    const uint64_t settle_quiet = 20ull * static_cast<uint64_t>(o.divisor);   // two bytes

    int listener = -1, client = -1, pty_slave = -1;
    bool client_spoke = false;              // the current client has sent a byte
    bool settling = false;                  // a client left; finish what it started
    double client_moved = 0;                // when a byte last moved to or from the client
    if (o.pty) {
        std::string path;
        client = open_pty(path, pty_slave);
        client_spoke = true;
        std::printf("pty %s\n", path.c_str());
    } else {
        std::string url;
        listener = open_listener(o, url);
        std::printf("listening on %s\n", url.c_str());
    }
    std::fflush(stdout);

    uint64_t last_activity = 0, last_pin_activity = 0, clients = 0, bytes_in = 0, bytes_out = 0;
    uint64_t discarded = 0, idle_drops = 0;
    FrameCounter device_frames;             // host frames are counted on the wire: ser.frames
    bool framed = true;                     // the device has only spoken when a frame was owed
    double busy_time = 0, start = now();
    static uint8_t rbuf[1 << 16];

    // The client is gone: discard its bytes not yet on the wire, end a frame it left open,
    // and settle (below) before serving the next.
    auto drop_client = [&]() {
        close(client);
        client = -1;
        client_spoke = false;
        discarded += to_fpga.size();
        to_host.clear();
        to_fpga.clear();
        if (ser.frames.length > 0) to_fpga.push(0);
        settling = true;
    };

    while (!g_stop) {
        // Simulate a chunk of cycles.
        double t0 = now();
        for (int i = 0; i < o.chunk; i++) {
            int tx = board.tick(ser.level(to_fpga));
            uint8_t b;
            if (des.sample(tx, b)) {
                bytes_out++;
                if (ser.frames.frames <= device_frames.frames) framed = false;
                device_frames.feed(b);
                if (client >= 0 && client_spoke && to_host.size() < out_limit) to_host.push(b);
            }
            if (ser.busy() || des.busy()) last_pin_activity = board.cycles;
        }
        double t1 = now();
        busy_time += t1 - t0;
        if (!to_fpga.empty()) last_pin_activity = board.cycles;
        uint64_t quiet = board.cycles - last_pin_activity;
        bool unanswered = ser.frames.frames > device_frames.frames;
        bool owed = unanswered && quiet < kOwedReplyCycles;
        if (owed || quiet == 0) last_activity = board.cycles;
        bool idle = board.cycles - last_activity >= o.idle_cycles;

        // Settled once the wire is quiet and the replies owed are in (or given up on, or the
        // device does not answer frame by frame): every frame sent so far counts as answered.
        if (settling && to_fpga.empty() && quiet >= settle_quiet &&
            (!unanswered || !framed || quiet >= kSettleCycles)) {
            settling = false;
            device_frames = FrameCounter();
            device_frames.frames = ser.frames.frames;
        }
        // An idle client gives way to a waiting one: watch the listen backlog.
        bool client_idle = client >= 0 && !o.pty && o.idle_limit > 0 && !(owed && framed) &&
                           to_fpga.empty() && t1 - client_moved >= o.idle_limit;

        // Poll the link: never block while anything is moving.
        pollfd fds[4];
        int n = 0, i_client = -1, i_listen = -1, i_stdin = -1;
        if (client >= 0) {
            short ev = 0;
            if (to_fpga.size() < in_limit) ev |= POLLIN;
            if (!to_host.empty()) ev |= POLLOUT;
            fds[n] = {client, ev, 0};
            i_client = n++;
        }
        if (listener >= 0 && ((client < 0 && !settling) || client_idle)) {
            fds[n] = {listener, POLLIN, 0};
            i_listen = n++;
        }
        if (o.watch_stdin) {
            fds[n] = {0, POLLIN, 0};
            i_stdin = n++;
        }
        int r = poll(fds, n, idle ? o.idle_poll_ms : 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (r == 0) continue;

        if (i_stdin >= 0 && fds[i_stdin].revents) {
            ssize_t k = read(0, rbuf, sizeof rbuf);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) break;
        }
        if (i_client >= 0) {
            short rev = fds[i_client].revents;
            if (rev & POLLOUT) {
                ssize_t k = o.pty ? write(client, to_host.data(), to_host.size())
                                  : send(client, to_host.data(), to_host.size(), MSG_NOSIGNAL);
                if (k > 0) {
                    to_host.drop(static_cast<size_t>(k));
                    client_moved = now();
                } else if (k < 0 && errno != EAGAIN && errno != EINTR && !o.pty) {
                    drop_client();
                    continue;
                }
            }
            // Read all there is (up to in_limit), so that an end of stream behind a backlog
            // is seen now.
            while (rev & (POLLIN | POLLHUP | POLLERR)) {
                size_t room = in_limit - std::min(in_limit, to_fpga.size());
                if (room == 0) break;
                ssize_t k = read(client, rbuf, std::min(room, sizeof rbuf));
                if (k > 0) {
                    to_fpga.push(rbuf, static_cast<size_t>(k));
                    bytes_in += static_cast<uint64_t>(k);
                    client_spoke = true;
                    client_moved = now();
                    last_activity = last_pin_activity = board.cycles;
                    if (static_cast<size_t>(k) < std::min(room, sizeof rbuf)) break;
                } else {
                    if (!o.pty && (k == 0 || (errno != EAGAIN && errno != EINTR)))
                        drop_client();
                    break;
                }
            }
        }
        if (i_listen >= 0 && (fds[i_listen].revents & POLLIN)) {
            if (client >= 0 && client_idle && now() - client_moved >= o.idle_limit) {
                std::fprintf(stderr, "spikecore-sim: a client idle for %.1f s disconnected: "
                             "another is waiting\n", now() - client_moved);
                idle_drops++;
                drop_client();
            } else if (client < 0 && !settling) {
                int fd = accept(listener, nullptr, nullptr);
                if (fd >= 0) {
                    set_nonblocking(fd);
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    client = fd;
                    client_spoke = false;
                    client_moved = now();
                    clients++;
                }
            }
        }
    }

    if (o.stats) {
        double wall = now() - start;
        std::fprintf(stderr,
            "spikecore-sim: %llu cycles, %.3f s simulating (%.0f cycles/s), %.3f s wall, "
            "%llu clients (%llu idle ones disconnected), %llu bytes in (%llu discarded), "
            "%llu bytes out, %llu framing errors%s\n",
            static_cast<unsigned long long>(board.cycles), busy_time,
            busy_time > 0 ? board.cycles / busy_time : 0.0, wall,
            static_cast<unsigned long long>(clients), static_cast<unsigned long long>(idle_drops),
            static_cast<unsigned long long>(bytes_in), static_cast<unsigned long long>(discarded),
            static_cast<unsigned long long>(bytes_out),
            static_cast<unsigned long long>(des.framing_errors),
            framed ? "" : ", the device sends unasked");
    }
    if (client >= 0) close(client);
    if (listener >= 0) close(listener);
    if (pty_slave >= 0) close(pty_slave);
    return 0;
}
