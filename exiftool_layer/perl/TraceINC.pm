# Records every Perl file and XS object the process loaded, for trace_modules.py.
# Usage: perl -I<dir of this file> -MTraceINC=<output file> exiftool ...
# Loads nothing itself, so the trace shows only what ExifTool needs.
package TraceINC;
my $out;
sub import { $out = $_[1] }
END {
    if (defined $out and open(my $fh, '>>', $out)) {
        print $fh "inc\t$_\t$INC{$_}\n" for sort keys %INC;
        print $fh "so\t$_\n" for @DynaLoader::dl_shared_objects;
        print $fh "dir\t$_\n" for @INC;
        close $fh;
    }
}
1;
