using System.Globalization;

namespace Bulwark.Cli.Commands;

/// <summary>A one-line progress bar on stderr, redrawn in place with <c>\r</c> at most every 5% (or on a change of the
/// label), and finished with a newline. Stdout stays clean for results and <c>--json</c>.</summary>
internal sealed class ProgressBar(TextWriter writer, string label, long total, string unit = "bytes")
{
    private const int Width = 30;
    private readonly object _gate = new();
    private int _lastPercent = -1;
    private long _lastValue = -1;
    private bool _finished;

    public void Report(long value)
    {
        lock (_gate)
        {
            if (_finished)
            {
                return;
            }
            var percent = total <= 0 ? 100 : (int)Math.Clamp(value * 100 / total, 0, 100);
            if (value == _lastValue || (percent / 5 == _lastPercent / 5 && value < total && unit == "bytes"))
            {
                return;
            }
            _lastPercent = percent;
            _lastValue = value;
            var filled = percent * Width / 100;
            writer.Write($"\r{label} [{new string('#', filled)}{new string('.', Width - filled)}] {percent,3}% {Progress(value)}");
            writer.Flush();
        }
    }

    public void Finish(string? suffix = null)
    {
        lock (_gate)
        {
            if (_finished)
            {
                return;
            }
            _finished = true;
            writer.WriteLine(suffix is null ? "" : " " + suffix);
        }
    }

    private string Progress(long value) => unit == "bytes"
        ? $"{Amount(value)}/{Amount(total)}"
        : $"{value.ToString(CultureInfo.InvariantCulture)}/{total.ToString(CultureInfo.InvariantCulture)} {unit}";

    private string Amount(long value) => total switch
    {
        >= 1024 * 1024 => (value / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        >= 1024 => (value / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KB",
        _ => value.ToString(CultureInfo.InvariantCulture) + " B",
    };
}

/// <summary>A read-only stream over another that reports how many bytes have been read so far: the upload's progress,
/// counted as the HTTP client pulls the body.</summary>
internal sealed class ProgressStream(Stream inner, Action<long> progress) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => inner.CanSeek;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set
        {
            inner.Position = value;
            _read = value;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin)
    {
        _read = inner.Seek(offset, origin);
        return _read;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    private int Count(int n)
    {
        if (n > 0)
        {
            _read += n;
            progress(_read);
        }
        return n;
    }
}
