#!/usr/bin/perl
# Source check (registered in CTest): every error a `caravan` command can show must come from
# a message catalog, so that it can be shown in Kazakh and Russian. Fails on a `fail(...)`,
# `make_error(...)`, `Error{...}` or `return {ErrorCode::..., ...}` whose message argument is
# not a catalog message (`msg::...`) or is glued together with `+`.
#
# An error no user should see (a bug) may stay English: mark it with a comment containing
# `i18n-exempt:` and the reason, on the line before the call or on its first line. A helper that
# passes on a catalog message it was given as a `const Message&` parameter is marked
# `i18n-forwards:` the same way.
#
# usage: check_messages.pl ROOT [DIR...]   (DIRs default to the layers a device runs)
use strict;
use warnings;
use File::Find;

my ($root, @dirs) = @ARGV;
die "usage: $0 ROOT [DIR...]\n" unless defined $root;
@dirs = qw(storage client cli sync/agent) unless @dirs;
# The definitions of fail/make_error themselves.
my %skip = map { $_ => 1 } qw(storage/include/caravan/storage/result.hpp storage/src/result.cpp);

my @files;
for my $dir (@dirs) {
    die "$root/$dir: no such directory\n" unless -d "$root/$dir";
    find(sub { push @files, $File::Find::name if /\.(?:cpp|hpp|cc|h)$/ }, "$root/$dir");
}

# Comments become spaces (line breaks kept); string and character literals stay.
sub strip_comments {
    my ($s) = @_;
    my $out = '';
    my $i = 0;
    my $n = length $s;
    while ($i < $n) {
        my $c = substr($s, $i, 1);
        my $two = substr($s, $i, 2);
        if ($two eq '//') {
            my $end = index($s, "\n", $i);
            $end = $n if $end < 0;
            $out .= ' ' x ($end - $i);
            $i = $end;
        } elsif ($two eq '/*') {
            my $end = index($s, '*/', $i + 2);
            $end = $end < 0 ? $n : $end + 2;
            (my $blank = substr($s, $i, $end - $i)) =~ s/[^\n]/ /g;
            $out .= $blank;
            $i = $end;
        } elsif (substr($s, $i) =~ /^R"([^(\s]*)\(/) {
            my $close = index($s, ")$1\"", $i);
            my $end = $close < 0 ? $n : $close + length($1) + 2;
            $out .= substr($s, $i, $end - $i);
            $i = $end;
        } elsif ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < $n && substr($s, $j, 1) ne $c) {
                $j += substr($s, $j, 1) eq '\\' ? 2 : 1;
            }
            $out .= substr($s, $i, $j + 1 - $i);
            $i = $j + 1;
        } else {
            $out .= $c;
            ++$i;
        }
    }
    return $out;
}

# The top-level arguments of the bracket opening at $open.
sub arguments {
    my ($s, $open) = @_;
    my @args;
    my $depth = 0;
    my $current = '';
    for (my $i = $open + 1; $i < length $s; ++$i) {
        my $c = substr($s, $i, 1);
        if ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < length $s && substr($s, $j, 1) ne $c) {
                $j += substr($s, $j, 1) eq '\\' ? 2 : 1;
            }
            $current .= substr($s, $i, $j + 1 - $i);
            $i = $j;
            next;
        }
        if ($c =~ /[([{]/) {
            ++$depth;
        } elsif ($c =~ /[)\]}]/) {
            if ($depth == 0) {
                push @args, $current;
                return @args;
            }
            --$depth;
        } elsif ($c eq ',' && $depth == 0) {
            push @args, $current;
            $current = '';
            next;
        }
        $current .= $c;
    }
    return @args;
}

my ($calls, $exempt, $forwards, @problems) = (0, 0, 0);
for my $file (sort @files) {
    (my $rel = $file) =~ s{^\Q$root\E/}{};
    next if $skip{$rel};
    open my $fh, '<', $file or die "$file: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my @lines = split /\n/, $text, -1;
    my $code = strip_comments($text);
    while ($code =~ /(?<![\w.>])(?:fail|make_error)\s*\(|\bError\s*\{|\b(?:return|=)\s*\{(?=\s*ErrorCode::)/g) {
        my $open = $+[0] - 1;
        my $line = substr($code, 0, $-[0]) =~ tr/\n//;
        my @args = arguments($code, $open);
        next if @args < 2;    # fail() of a stream, a declaration without a message
        ++$calls;
        my $message = $args[1];
        (my $bare = $message) =~ s/"(?:[^"\\]|\\.)*"//g;
        next if $message =~ /\bmsg::/ && $bare !~ /\+/;
        my $before = $line > 0 ? $lines[$line - 1] : '';
        if ("$before\n$lines[$line]" =~ /i18n-exempt:/) {
            ++$exempt;
            next;
        }
        if ("$before\n$lines[$line]" =~ /i18n-forwards:/ && $bare =~ /^\s*\w+\s*$/) {
            ++$forwards;
            next;
        }
        $message =~ s/\s+/ /g;
        $message =~ s/^ | $//g;
        push @problems, sprintf("%s:%d: error message not from a catalog: %s", $rel, $line + 1,
                                $message);
    }
}
print "$_\n" for @problems;
printf "%d error sites checked, %d exempt (i18n-exempt), %d forwarding (i18n-forwards), "
    . "%d untranslated\n", $calls, $exempt, $forwards, scalar @problems;
exit(@problems ? 1 : 0);
