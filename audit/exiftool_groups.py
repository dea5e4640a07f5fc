"""ExifTool 13.59's family-1 group names (``exiftool -listg1``), the vocabulary ``--fail-on`` is checked against.

Generated from the pinned ExifTool; ``tests/audit_tests/test_fail_on.py`` fails when the pin's list differs.
"""

_LISTG1 = """
AAC AADAccelFeatures AC3 AccelData Activity ActivityMetrics Adobe AdobeCM AdobeDNG AFCP AIFF AlarmSettings
Alert AntChannelID AntRx AntTx APE APP2 Apple AROT ASF Audible AudioItemList AudioKeys AudioUserData
AuxBattery AVI1 AviationAttitude Barometer BeatIntervals BestEffort BikeProfile BloodPress CadenceZone
CameraEvent CameraIFD Canon CanonCustom CanonDR4 CanonRaw CanonVRD Capabilities Casio CBOR Chapter#
ChronoShotData ChronoShotSession CIFF ClimbPro Clubs Composite ConnectIQField Connectivity Course CoursePoint
CPEStatus DataScreen DevDataID DeviceInfo DeviceSettings DeviceStatus DeviceUsed DICOM DiveAlarm
DiveApneaAlarm DiveGas DiveSettings DiveSummary DJI DjVu DjVu-Meta DNG Ducky DV ECGRawSample ECGSmoothSample
ECGSummary EnduranceScore EPOStatus EPPIM Event ExdDataConceptConfig ExdDataFieldConfig ExdScreenConfig EXE
ExerciseTitle EXIF ExifIFD ExifTool FieldCaps FieldDescr File FileCaps FileCreator FileID FITS FLAC Flash
FlashPix FLIR Font FotoStation FujiFilm FujiIFD FunctionalMetrics Garmin GE GeoTiff GIF GIMP GlobParamIFD GM
Goal GolfCourse GolfStats Google GoPro GPS GPSEvent GraphConv GSpherical GyroData H264 HillScore Hole HP HR
HRMProfile HRV HRVStatusSummary HRVValue HRZone HSA_HRData HSA_SPO2Data HSAAccelData HSABodyBattery
HSAConfigData HSAEvent HSAGyroData HSARespirData HSAStepData HSAStressData HSAWristTemp HTC HTML HTML-dc
HTML-ncc HTML-office HTML-prod HTML-vw96 HTTP-equiv ICC-chrm ICC-cicp ICC-clrt ICC-header ICC-meas ICC-meta
ICC-view ICC_Profile ICC_Profile# ID3 ID3v1 ID3v1_Enh ID3v2_2 ID3v2_3 ID3v2_4 IFD0 IFD1 InfiRay Insta360
InteropIFD IPTC IPTC# ISO ITC ItemList iTunes JFIF JFXX JPEG JPEG-HDR Jpeg2000 JPS JSON JUMBF Jump JVC
KDC_IFD Keys KFIX Kodak KodakBordersIFD KodakEffectsIFD KodakIFD KVAR KyoceraRaw Lap Leaf LeafSubIFD Leica
Length LNK Location Lyrics3 Lytro M-RAW M2TS MAC MacOS MagData MakerNotes MakerUnknown MapLayer Matroska
MaxMetData MediaJukebox MemoGlob MesgCaps Meta MetaIFD Metronome MetZone Microsoft MIE-Audio MIE-Camera
MIE-Canon MIE-Doc MIE-Extender MIE-Flash MIE-Geo MIE-GPS MIE-Image MIE-Lens MIE-Main MIE-MakerNotes MIE-Meta
MIE-Orient MIE-Preview MIE-Thumbnail MIE-Unknown MIE-UTM MIE-Video MIFF Minolta MinoltaRaw MISB MNG MOBI MOI
MonitorHRData MonitorInfo Monitoring Motorola MPC MPEG MPF0 MPImage MS-DOC MtbCx MultisportActivity
MultisportSettings MusicInfo MXF NapEvent Nextbase Nikon NikonCapture NikonCustom NikonScan NikonSettings
NineEdits Nintendo NITF NMEA OBDIIData Ocad Ogg OHRSettings Olympus OneDSensorCal OnePlus OpenEXR
OpenWaterEvent Opus Palm Panasonic PanasonicRaw Parrot PDF Pentax PersonalRecord PhaseOne PhotoCD
PhotoMechanic Photoshop PICT PictureInfo PNG PNG-cICP PNG-pHYs PostScript PowerMode PowerZone PreviewIFD
PrintIM ProfileIFD PSP Qualcomm QuickTime Race RaceEvent Radiance RAF RAF2 RangeAlert RawBBI Rawzor Real
Real-CONT Real-MDPR Real-PROP Real-RA3 Real-RA4 Real-RA5 Real-RJMD Reconyx Record Red RespirationRate Ricoh
RIFF RMETA Routing RSRC RTF Samsung Sanyo Scalado Schedule Score SDMProfile SEAL SegFile SegLap
SegLeaderboard SegmentID SegPoint SensorSettings Session Set Shot Sigma SigmaRaw SkinTempOvernight
SlaveDevice SleepAssessment SleepDataInfo SleepDisruptOvernight SleepDisruptPeriod SleepLevel
SleepRestlessMoments SleepSchedule Software Sony SonyIDC SpeedZone SPIFF Split SplitSummary SplitTime
SPO2Data Sport SR2 SR2DataIFD SR2SubIFD SRF# Stim StressLevel SubIFD SVG System TankSummary TankUpdate Theora
ThreeDSensorCal TimeInZone Torrent Totals Track# Track#ItemList Track#Keys Track#UserData TrainingFile
TrainingLoad TrainingReadiness TrainingSettings TSCorrelation UserData UserMetrics UserProfile VCalendar
VCard Version0 Video VideoClip VideoDescr VideoFrame VideoItemList VideoKeys VideoTitle VideoUserData Vivo
VNote Vorbis WatchfaceSettings WaypointHandling WeatherAlert WeatherConditions WeightScale Workout
WorkoutSchedule WorkoutSess WorkoutStep WTV XML XMP XMP-aas XMP-acdsee XMP-acdsee-rs XMP-album XMP-apdi
XMP-apple-fi XMP-ast XMP-aux XMP-cc XMP-cell XMP-crd XMP-creatorAtom XMP-crs XMP-dc XMP-Device XMP-dex
XMP-DICOM XMP-digiKam XMP-drone-dji XMP-dwc XMP-et XMP-exif XMP-exifEX XMP-expressionmedia XMP-extensis
XMP-fpv XMP-GAudio XMP-GCamera XMP-GContainer XMP-GCreations XMP-GDepth XMP-getty XMP-GFocus XMP-GImage
XMP-GPano XMP-GSpherical XMP-hdr XMP-HDRGainMap XMP-hdrgm XMP-ics XMP-iptcCore XMP-iptcExt XMP-LImage XMP-lr
XMP-mediapro XMP-microsoft XMP-MP XMP-MP1 XMP-mwg-coll XMP-mwg-kw XMP-mwg-rs XMP-nine XMP-panorama XMP-pdf
XMP-pdfx XMP-photomech XMP-photoshop XMP-PixelLive XMP-plus XMP-pmi XMP-prism XMP-prl XMP-prm XMP-pur XMP-rdf
XMP-sdc XMP-seal XMP-swf XMP-tiff XMP-x XMP-xmp XMP-xmpBJ XMP-xmpDM XMP-xmpDSA XMP-xmpMM XMP-xmpNote
XMP-xmpPLUS XMP-xmpRights XMP-xmpTPg ZIP ZonesTarget
"""

FAMILY1 = frozenset(_LISTG1.split())
"""Family-1 group names; ``#`` stands for a number (``Track#`` is ``Track1``, ``Track2``, ...)."""
