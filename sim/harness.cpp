// spikecore virtual board: the Verilated top level (ports clk, rst, rx, tx) with its UART pins
// bridged to a TCP socket or a pty.
//
//   harness [--port P] [--host ADDR] | --pty      serve (prints socket://ADDR:PORT or the pty)
//           [--divisor D] [--chunk N] [--idle-cycles N] [--idle-poll-ms T]
//           [--watch-stdin] [--stats] [--trace FILE.vcd]
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
// One client at a time: further connections wait in the listen backlog. A client may vanish at
// any point, like an unplugged serial adapter: the byte on the wire is finished, the bytes it
// sent that are not yet on the wire are discarded. What the device sends while no client is
// connected, or before the current client has sent anything, is dropped, so a new client does
// not read replies meant for the previous one.

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

// Drives the FPGA's `rx` pin: 8N1, `divisor` cycles per bit.
struct Serializer {
    int divisor;
    int bit = -1;      // -1 idle, 0 start, 1..8 data, 9 stop
    int count = 0;     // cycles left in the current bit
    uint8_t byte = 0;

    bool busy() const { return bit >= 0; }

    // Return the pin level for this cycle, taking the next byte from `q` when idle.
    int level(ByteQueue &q) {
        if (bit < 0) {
            if (q.empty()) return 1;
            byte = q.pop();
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
    bool watch_stdin = false;
    bool stats = false;
    std::string trace;
    uint64_t bench_cycles = 0;
};

void usage() {
    std::fprintf(stderr,
        "usage: harness [--port P] [--host ADDR] | --pty  [--divisor D] [--chunk N]\n"
        "               [--idle-cycles N] [--idle-poll-ms T] [--watch-stdin] [--stats]\n"
        "               [--trace FILE.vcd]\n"
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

int open_listener(const Options &o, int &port_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
        std::fprintf(stderr, "spikecore-sim: bad --host %s\n", o.host.c_str());
        std::exit(2);
    }
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0) die("bind");
    if (listen(fd, 8) < 0) die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) < 0) die("getsockname");
    port_out = ntohs(addr.sin_port);
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

// Counts COBS frames in a byte stream: a run of non-zero bytes closed by a 0x00 delimiter.
struct FrameCounter {
    uint64_t frames = 0;
    bool open = false;
    void feed(uint8_t b) {
        if (b != 0) open = true;
        else if (open) { frames++; open = false; }
    }
};

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
    const size_t in_limit = 4096;           // host bytes buffered ahead of the wire
    const size_t out_limit = 1u << 20;      // device bytes kept for a slow reader

    int listener = -1, client = -1, pty_slave = -1;
    bool client_spoke = false;              // the current client has sent a byte
    if (o.pty) {
        std::string path;
        client = open_pty(path, pty_slave);
        client_spoke = true;
        std::printf("pty %s\n", path.c_str());
    } else {
        int port = 0;
        listener = open_listener(o, port);
        std::printf("listening on socket://%s:%d\n", o.host.c_str(), port);
    }
    std::fflush(stdout);

    uint64_t last_activity = 0, last_pin_activity = 0, clients = 0, bytes_in = 0, bytes_out = 0;
    FrameCounter host_frames, device_frames;
    double busy_time = 0, start = now();
    uint8_t rbuf[4096];

    // A new client (and a dropped one) owes and is owed nothing: frames are counted afresh.
    auto forget_frames = [&]() {
        host_frames = FrameCounter();
        device_frames = FrameCounter();
    };
    auto drop_client = [&]() {
        close(client);
        client = -1;
        client_spoke = false;
        to_host.clear();
        to_fpga.clear();
        forget_frames();
    };

    while (!g_stop) {
        // Simulate a chunk of cycles.
        double t0 = now();
        for (int i = 0; i < o.chunk; i++) {
            int tx = board.tick(ser.level(to_fpga));
            uint8_t b;
            if (des.sample(tx, b)) {
                bytes_out++;
                device_frames.feed(b);
                if (client >= 0 && client_spoke && to_host.size() < out_limit) to_host.push(b);
            }
        }
        busy_time += now() - t0;
        if (ser.busy() || des.busy() || !to_fpga.empty()) last_pin_activity = board.cycles;
        bool owed = host_frames.frames > device_frames.frames &&
                    board.cycles - last_pin_activity < kOwedReplyCycles;
        if (owed || last_pin_activity == board.cycles) last_activity = board.cycles;
        bool idle = board.cycles - last_activity >= o.idle_cycles;

        // Poll the link: never block while anything is moving.
        pollfd fds[3];
        int n = 0, i_client = -1, i_listen = -1, i_stdin = -1;
        if (client >= 0) {
            short ev = 0;
            if (to_fpga.size() < in_limit) ev |= POLLIN;
            if (!to_host.empty()) ev |= POLLOUT;
            fds[n] = {client, ev, 0};
            i_client = n++;
        } else if (listener >= 0) {
            fds[n] = {listener, POLLIN, 0};
            i_listen = n++;
        }
        if (o.watch_stdin) {
            fds[n] = {0, POLLIN, 0};
            i_stdin = n++;
        }
        int r = poll(fds, n, idle && to_host.empty() ? o.idle_poll_ms : 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (r == 0) continue;

        if (i_stdin >= 0 && fds[i_stdin].revents) {
            ssize_t k = read(0, rbuf, sizeof rbuf);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) break;
        }
        if (i_listen >= 0 && (fds[i_listen].revents & POLLIN)) {
            int fd = accept(listener, nullptr, nullptr);
            if (fd >= 0) {
                set_nonblocking(fd);
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                client = fd;
                client_spoke = false;
                forget_frames();
                clients++;
            }
        }
        if (i_client >= 0) {
            short rev = fds[i_client].revents;
            if (rev & POLLOUT) {
                ssize_t k = o.pty ? write(client, to_host.data(), to_host.size())
                                  : send(client, to_host.data(), to_host.size(), MSG_NOSIGNAL);
                if (k > 0) to_host.drop(static_cast<size_t>(k));
                else if (k < 0 && errno != EAGAIN && errno != EINTR && !o.pty) {
                    drop_client();
                    continue;
                }
            }
            if (rev & (POLLIN | POLLHUP | POLLERR)) {
                size_t room = in_limit - std::min(in_limit, to_fpga.size());
                ssize_t k = read(client, rbuf, std::min(room, sizeof rbuf));
                if (k > 0) {
                    to_fpga.push(rbuf, static_cast<size_t>(k));
                    for (ssize_t j = 0; j < k; j++) host_frames.feed(rbuf[j]);
                    bytes_in += static_cast<uint64_t>(k);
                    client_spoke = true;
                    last_activity = last_pin_activity = board.cycles;
                } else if (!o.pty && (k == 0 || (errno != EAGAIN && errno != EINTR))) {
                    drop_client();
                }
            }
        }
    }

    if (o.stats) {
        double wall = now() - start;
        std::fprintf(stderr,
            "spikecore-sim: %llu cycles, %.3f s simulating (%.0f cycles/s), %.3f s wall, "
            "%llu clients, %llu bytes in, %llu bytes out, %llu framing errors\n",
            static_cast<unsigned long long>(board.cycles), busy_time,
            busy_time > 0 ? board.cycles / busy_time : 0.0, wall,
            static_cast<unsigned long long>(clients), static_cast<unsigned long long>(bytes_in),
            static_cast<unsigned long long>(bytes_out),
            static_cast<unsigned long long>(des.framing_errors));
    }
    if (client >= 0) close(client);
    if (listener >= 0) close(listener);
    if (pty_slave >= 0) close(pty_slave);
    return 0;
}
