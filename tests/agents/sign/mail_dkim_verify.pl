#!/usr/bin/perl
# Verifies the DKIM signatures of each message file named after $ARGV[0] with
# Mail::DKIM (the verifier SpamAssassin and amavis use), an implementation
# independent of dkimpy.  DNS is served from the file named in $ARGV[0]: lines
# of "selector._domainkey.domain<TAB>TXT value".  Prints one line per
# signature: "file<TAB>result<TAB>domain<TAB>selector<TAB>detail".
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

my %zone;
open(my $fh, '<', $ARGV[0]) or die "zone: $!";
while (my $line = <$fh>) {
    chomp $line;
    my ($name, $value) = split(/\t/, $line, 2);
    $zone{lc $name} = $value;
}
close $fh;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($domain, $type) = @_;
        my $value = $zone{lc $domain};
        if (!defined $value || $type ne 'TXT') { $@ = 'NXDOMAIN'; return; }
        my @strings = unpack('(A255)*', $value);
        return Net::DNS::RR->new(name => $domain, type => 'TXT', txtdata => \@strings);
    };
}

for my $path (@ARGV[1 .. $#ARGV]) {
    open(my $in, '<:raw', $path) or die "$path: $!";
    my $message = do { local $/; <$in> };
    close $in;
    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT($message);
    $dkim->CLOSE;
    for my $signature ($dkim->signatures) {
        printf "%s\t%s\t%s\t%s\t%s\n", $path, $signature->result, $signature->domain,
            $signature->selector, $signature->result_detail // '';
    }
}
